"""GET /healthz: is Redis answering, and how is the queue doing?

Counts only, through RQ's public API: no job is fetched and nothing is
cleaned up (that is the worker's maintenance), so a monitor can poll it every
few seconds. 200 when Redis answers, 503 when it does not.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker

from web import app_resources, csrf

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    queue = app_resources.queue()
    try:
        # A worker killed outright, and the job it was running, stay counted
        # until another worker's maintenance notices (README "Guarantees").
        counts = {
            "queue_depth": queue.count,
            "workers": Worker.count(queue=queue),
            "started": queue.started_job_registry.get_job_count(cleanup=False),
            "scheduled": queue.scheduled_job_registry.get_job_count(cleanup=False),
            "failed": queue.failed_job_registry.get_job_count(cleanup=False),
        }
    except RedisError:
        response = jsonify({"redis": "unreachable", "queue": queue.name})
        response.status_code = 503
    else:
        response = jsonify({"redis": "ok", "queue": queue.name, **counts})
    response.headers["Cache-Control"] = "no-store"
    return response
