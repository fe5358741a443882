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

# (part, file path fragment(s), function name): cumulative time per request.
# Without a function name: every call into files matching the fragment from
# outside them, i.e. all the time spent in that package, what it calls included.
LIMITS = ("flask_limiter/", "limits/")
PARTS = [
    ("Flask app (wsgi_app: everything but gunicorn's parsing and access log)", "flask/app.py", "wsgi_app"),
    ("rate limits: flask-limiter and limits (Redis calls included)", LIMITS, ""),
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


def _inside(filename: str, paths: tuple[str, ...]) -> bool:
    return any(path in filename for path in paths)


def _called_from(stats: pstats.Stats, paths: tuple[str, ...], target_path: str, target_name: str) -> float:
    """Cumulative time of ``target_name`` (in ``target_path``) when called from the part's files."""
    total = 0.0
    for (filename, _line, function), (*_counts, callers) in stats.stats.items():
        if target_path in filename and function == target_name:
            total += sum(edge[3] for caller, edge in callers.items() if _inside(caller[0], paths))
    return total


def parts(stats: pstats.Stats) -> list[tuple[str, float]]:
    """(part, ms per request) for PARTS. A part with a function name is that
    function's cumulative time; one without is the time of every call into
    the part's files from outside them (or from no profiled caller)."""
    requests = max(requests_profiled(), 1)
    found = []
    for label, path, name in PARTS:
        paths = path if isinstance(path, tuple) else (path,)
        total = 0.0
        for (filename, _line, function), (_cc, _nc, _tt, cumulative, callers) in stats.stats.items():
            if not _inside(filename, paths):
                continue
            if name:
                total += cumulative if function == name else 0.0
            elif not callers:
                total += cumulative
            else:
                # callers: {caller: (calls, primitive calls, own time, cumulative time)} for that edge
                total += sum(edge[3] for caller, edge in callers.items() if not _inside(caller[0], paths))
        if not name and path == LIMITS:
            # When the limits are declared on the view (a decorator), the view
            # runs inside flask-limiter: its time is the view's part, not the limiter's.
            total -= _called_from(stats, paths, "web/api.py", "create_sequence")
        found.append((label, total * 1000 / requests))
    return found
