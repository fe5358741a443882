"""gunicorn.conf.py's settings plus cProfile around each request, for bench/profile_web.py.

Each worker profiles its requests after the first WARM_UP ones (imports,
connection pools and first-use caches are not what a request costs) and
writes bench/results/profile/<pid>-<requests profiled>.prof (git-ignored) when it stops.
"""

import cProfile
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE_DIR = ROOT / "bench" / "results" / "profile"
WARM_UP = 50
# The real settings, so the profiled server is the Procfile's.
globals().update({name: value for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items() if not name.startswith("_")})


def post_fork(server, worker):
    worker.profile = cProfile.Profile()
    worker.requests_seen = 0


def pre_request(worker, req):
    worker.requests_seen += 1
    if worker.requests_seen > WARM_UP:
        worker.profile.enable()


def post_request(worker, req, environ, resp):
    worker.profile.disable()


def worker_exit(server, worker):
    profiled = max(worker.requests_seen - WARM_UP, 0)
    if profiled:
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        worker.profile.dump_stats(PROFILE_DIR / f"{worker.pid}-{profiled}.prof")
