"""Where a POST /api/sequences spends its time: cProfile inside the gunicorn
workers (bench/gunicorn_profile.conf.py) while wrk sends requests over one
connection, then the time per request of each part of the request path.

The parts are the cumulative time of the functions that do each job; they
nest (the enqueue runs inside the view, the view inside Flask), so they do not
add up to the total. cProfile slows Python code down, so read the shares more
than the milliseconds.
"""

from __future__ import annotations

import pstats
import shutil
from pathlib import Path

# Where bench/gunicorn_profile.conf.py writes (it is a gunicorn config file, not importable).
PROFILE_DIR = Path(__file__).resolve().parent / "results" / "profile"

# (part, file path fragment, function name): cumulative time per request.
# Without a function name: every call into files matching the fragment from
# outside them, i.e. all the time spent in that package, what it calls included.
PARTS = [
    ("Flask app (wsgi_app: everything but gunicorn's parsing and access log)", "flask/app.py", "wsgi_app"),
    ("flask-limiter, both limits (its Redis calls included)", "flask_limiter/", ""),
    ("  of which limits' Redis storage (Lua scripts over the network)", "limits/storage/", ""),
    ("view: create_sequence (validation + enqueue + response)", "web/api.py", "create_sequence"),
    ("WTForms form build + validate (email-validator included)", "wtforms/", ""),
    ("  of which email-validator", "email_validator/", ""),
    ("enqueue (jobs.tasks.enqueue_fibonacci_email)", "jobs/tasks.py", "enqueue_fibonacci_email"),
    ("RQ (job build, serialise, enqueue pipeline)", "rq/", ""),
    ("redis-py, all callers (network waits included)", "redis/", ""),
    ("response JSON (jsonify)", "flask/json/", ""),
    ("url_for (status_url)", "flask/helpers.py", "url_for"),
    ("request id (web/request_id.py)", "web/request_id.py", ""),
    ("security headers (web/security_headers.py)", "web/security_headers.py", ""),
    ("CSRF check (flask_wtf, exempt for the API)", "flask_wtf/", ""),
    ("logging module (app lines)", "logging/__init__.py", ""),
    ("gunicorn access log line", "gunicorn/glogging.py", "access"),
    ("Sentry hooks", "sentry_sdk/", ""),
]


def clear() -> None:
    shutil.rmtree(PROFILE_DIR, ignore_errors=True)


def load() -> pstats.Stats:
    files = sorted(str(path) for path in PROFILE_DIR.glob("*.prof"))
    if not files:
        raise RuntimeError(f"no profiles in {PROFILE_DIR}: did the gunicorn workers exit cleanly?")
    return pstats.Stats(*files)


def requests_profiled() -> int:
    """From the file names bench/gunicorn_profile.conf.py writes: <pid>-<requests>.prof."""
    return sum(int(path.stem.split("-")[1]) for path in PROFILE_DIR.glob("*.prof"))


def parts(stats: pstats.Stats) -> list[tuple[str, float]]:
    """(part, ms per request) for PARTS."""
    requests = max(requests_profiled(), 1)
    found = []
    for label, path, name in PARTS:
        total = 0.0
        for (filename, _line, function), (_cc, _nc, _tt, cumulative, callers) in stats.stats.items():
            if path not in filename or (name and function != name):
                continue
            if not name and any(path in caller[0] for caller in callers):
                continue  # counted in its caller from the same file
            total += cumulative
        found.append((label, total * 1000 / requests))
    return found
