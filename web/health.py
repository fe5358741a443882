"""GET /healthz: is Redis answering, and how is the queue doing?

One pipelined round trip to Redis (no job is fetched), so a monitor can poll it
every few seconds. 200 when Redis answers, 503 when it does not. Counts only,
never job contents.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from web import app_resources, csrf

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    queue = app_resources.queue()
    now = time.time()
    try:
        with app_resources.redis().pipeline(transaction=False) as pipeline:
            pipeline.llen(queue.key)
            # Workers register themselves per queue and leave on shutdown; one
            # killed outright stays listed until another worker's maintenance.
            pipeline.scard(WORKERS_BY_QUEUE_KEY % queue.name)
            pipeline.zcard(queue.scheduled_job_registry.key)
            # Started and failed registries are scored by expiry time: count
            # the live entries only.
            pipeline.zcount(queue.started_job_registry.key, now, "+inf")
            pipeline.zcount(queue.failed_job_registry.key, now, "+inf")
            queue_depth, workers, scheduled, started, failed = pipeline.execute()
    except RedisError:
        response = jsonify({"redis": "unreachable", "queue": queue.name})
        response.status_code = 503
    else:
        response = jsonify(
            {
                "redis": "ok",
                "queue": queue.name,
                "queue_depth": queue_depth,
                "workers": workers,
                "started": started,
                "scheduled": scheduled,
                "failed": failed,
            }
        )
    response.headers["Cache-Control"] = "no-store"
    return response
