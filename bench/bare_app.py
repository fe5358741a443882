"""The web peer: the ten lines of Flask + RQ a user would write without FibTastic.

It type-checks the body and enqueues the same job on the same queue, nothing
else (no form validation, rate limits, request id, logging or headers), so
`make bench` can state the app's cost as a ratio to it. Benchmark only:
    gunicorn --workers 2 --worker-class sync "bench.bare_app:create_app()"
"""

from flask import Flask, request
from redis import Redis
from rq import Queue

from jobs.core.settings import load_settings


def create_app() -> Flask:
    settings = load_settings()
    app = Flask(__name__)
    queue = Queue(settings.queue_name, connection=Redis.from_url(settings.redis_url))

    @app.post("/api/sequences")
    def create_sequence():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("email"), str) or type(body.get("length")) is not int:
            return {"error": 'send {"email": "...", "length": 10}'}, 422
        job = queue.enqueue("jobs.tasks.send_fibonacci_email", body["email"], body["length"])
        return {"job_id": job.id}, 202

    return app
