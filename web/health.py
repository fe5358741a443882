"""GET /healthz: 200 with the queue's counts when Redis answers, else 503. Counts only, nothing cleaned up,
so a monitor can poll it every few seconds."""

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
