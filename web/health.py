"""GET /healthz: Redis's state for anyone, 200 when it takes writes, else 503 ("full" or "unreachable"). The
queue's figures only with the dashboard's credentials: queue depth and failed jobs tell outsiders about your
traffic (docs/operating.md "Health"). Nothing written, nothing cleaned up: a monitor can poll it every few seconds."""

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker

from jobs.core.connection import registry_counts
from jobs.core.redis_memory import accepts_writes
from web import app_resources, csrf
from web.dashboard import has_dashboard_credentials

bp = Blueprint("health", __name__)
csrf.exempt(bp)

NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    queue = app_resources.queue()
    try:
        # One round trip. Full: every submission answers 503 (web/errors.py), so this does too.
        state = "ok" if accepts_writes(queue.connection) else "full"
        figures = {}
        if has_dashboard_credentials(app_resources.settings()):
            # A worker killed outright, and its job, stay counted until another's maintenance notices (docs/guarantees.md).
            figures = {"queue_depth": queue.count, "workers": Worker.count(queue=queue), **registry_counts(queue)}
    except RedisError:
        return jsonify({"redis": "unreachable", "queue": queue.name}), 503, NO_STORE
    return jsonify({"redis": state, "queue": queue.name, **figures}), 200 if state == "ok" else 503, NO_STORE
