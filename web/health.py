"""GET /healthz: 200 with the queue's counts when Redis answers, else 503. Counts only, nothing cleaned up,
so a monitor can poll it every few seconds."""

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker

from jobs.core.connection import registry_counts
from web import app_resources, csrf

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    queue = app_resources.queue()
    try:
        # A worker killed outright, and its job, stay counted until another's maintenance notices (README "Guarantees").
        counts = {"queue_depth": queue.count, "workers": Worker.count(queue=queue), **registry_counts(queue)}
    except RedisError:
        return jsonify({"redis": "unreachable", "queue": queue.name}), 503, {"Cache-Control": "no-store"}
    return jsonify({"redis": "ok", "queue": queue.name, **counts}), 200, {"Cache-Control": "no-store"}
