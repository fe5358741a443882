"""The JSON API: POST /api/sequences and GET /api/jobs/<id>."""

from functools import partial

from flask import Blueprint, jsonify, request, url_for
from werkzeug.datastructures import MultiDict

from jobs.tasks import enqueue_fibonacci_email
from web import app_resources, csrf, idempotency, rate_limits
from web.forms import SequenceForm
from web.job_status import find_job, status_fields

bp = Blueprint("api", __name__, url_prefix="/api")
# API clients are not browsers carrying a session cookie, so CSRF does not
# apply; it stays on for the HTML form.
csrf.exempt(bp)


def field_errors(status: int, **messages: str):
    """A JSON error answer naming each field (or "body") with its problem; web/errors.py answers the rest."""
    return jsonify({"errors": messages}), status


def accepted(job):
    status_url = url_for("api.job", job_id=job.id, _external=True)
    response = jsonify({"job_id": job.id, "status_url": status_url})
    response.status_code = 202
    response.headers["Location"] = status_url
    return response


@bp.post("/sequences")
@rate_limits.per_client_ip
@rate_limits.per_recipient("email")
def create_sequence():
    if not request.is_json:
        return field_errors(415, body="Send a JSON object with Content-Type: application/json.")
    payload = request.get_json(silent=True)
    if payload is None:
        return field_errors(400, body="The body is not valid JSON.")
    if not isinstance(payload, dict):
        return field_errors(400, body='The body must be a JSON object, like {"email": "you@example.com", "length": 10}.')

    problems = {}
    email, length = payload.get("email"), payload.get("length")
    if email is not None and not isinstance(email, str):
        problems["email"] = "Must be a string."
    # bool is an int in Python, and 10.0 would silently become 10: refuse both.
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)):
        problems["length"] = "Must be a whole number, like 10."
    if problems:
        return field_errors(422, **problems)

    # The same form as the HTML page, so both apply the same rules.
    formdata = MultiDict({key: str(value) for key, value in (("email", email), ("length", length)) if value is not None})
    form = SequenceForm(formdata=formdata, meta={"csrf": False})
    if not form.validate():
        return field_errors(422, **{name: messages[0] for name, messages in form.errors.items()})

    enqueue = partial(enqueue_fibonacci_email, app_resources.queue(), app_resources.settings(), form.email.data, form.length.data)
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return accepted(enqueue())
    if problem := idempotency.key_problem(key):
        return field_errors(400, idempotency_key=problem)
    job, new = idempotency.enqueue_once(idempotency.job_id_for(key, form.email.data), enqueue)
    if not new:
        rate_limits.give_back_recipient_slot()  # the first request with this key was counted
    return accepted(job)


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    found = find_job(job_id)
    if found is None:
        return field_errors(404, job_id="No job with this id (finished jobs are kept for an hour, failed ones for 3 days).")
    return jsonify(status_fields(found))
