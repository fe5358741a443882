"""The apps section "peers-web" serves beside the Procfile's, each under the Procfile's gunicorn line:

- ``bare()``: the peer, the ten lines of Flask + RQ a user would write without FibTastic. It type-checks the
  body and enqueues the same job on the same queue, nothing else, so the app's cost is a ratio to it;
- ``without_rate_limits()``: this app with flask-limiter's documented switch off, pricing the limits;
- ``sending_inline()``: this app plus POST /sync/sequences, which validates like the API and then sends the
  email inside the request, as an app without a queue would. It lives here so the real app never sends mail
  from a web process.

FibTastic's web package is imported inside the last two only, so the bare peer loads none of it.
"""

from flask import Flask, jsonify, request
from redis import Redis
from rq import Queue

from jobs.core.settings import load_settings


def bare() -> Flask:
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


def without_rate_limits() -> Flask:
    from web import create_app

    # RATELIMIT_ENABLED: the decorators stay, no limit is checked or counted.
    return create_app({"RATELIMIT_ENABLED": False})


def sending_inline() -> Flask:
    from werkzeug.datastructures import MultiDict

    from jobs.core.mail import mailer_from_settings
    from jobs.email_content import fibonacci_email
    from web import app_resources, create_app, csrf
    from web.forms import SequenceForm

    app = create_app()

    @app.post("/sync/sequences")
    @csrf.exempt
    def create_sequence_synchronously():
        payload = request.get_json(silent=True) or {}
        values = MultiDict({key: str(payload.get(key, "")) for key in ("email", "length")})
        form = SequenceForm(formdata=values, meta={"csrf": False})
        if not form.validate():
            return jsonify({"errors": form.errors}), 422
        settings = app_resources.settings()
        mailer_from_settings(settings).send(fibonacci_email(settings.mail_from, form.email.data, form.length.data))
        return jsonify({"sent": True}), 200

    return app
