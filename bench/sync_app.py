"""The synchronous path the lesson starts from, for the benchmark only.

The normal app plus one route, POST /sync/sequences, that validates like the
API and then sends the email inside the request, the way the app would if it
had no queue. It lives in bench/ so the real app can never send mail from a
web process. Run: gunicorn --config gunicorn.conf.py "bench.sync_app:create_app()"
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.datastructures import MultiDict

from jobs.core.mail import mailer_from_settings
from jobs.email_content import fibonacci_email
from web import app_resources, csrf
from web import create_app as create_real_app
from web.forms import SequenceForm

bp = Blueprint("sync", __name__, url_prefix="/sync")
csrf.exempt(bp)


@bp.post("/sequences")
def create_sequence_synchronously():
    payload = request.get_json(silent=True) or {}
    form = SequenceForm(formdata=MultiDict({key: str(payload.get(key, "")) for key in ("email", "length")}), meta={"csrf": False})
    if not form.validate():
        return jsonify({"errors": form.errors}), 422
    settings = app_resources.settings()
    mailer_from_settings(settings).send(fibonacci_email(settings.mail_from, form.email.data, form.length.data))
    return jsonify({"sent": True}), 200


def create_app():
    app = create_real_app()
    app.register_blueprint(bp)
    return app
