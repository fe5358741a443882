"""The real app plus one route that fails, for tests of error reporting only.

gunicorn serves it as ``tests.support.failing_app:create_app()`` with the
Procfile's own command line; production never imports this module.
"""

from flask import Blueprint, request

from web import app_resources, csrf
from web import create_app as create_real_app

bp = Blueprint("failing", __name__)
csrf.exempt(bp)


@bp.post("/test-only/fail")
def fail():
    # Locals and the message carry what must never reach Sentry: Sentry
    # records frame locals, and real exceptions quote addresses.
    recipient = request.form["email"]
    settings = app_resources.settings()
    raise RuntimeError(f"could not handle {recipient} (keys {settings.secret_key} {settings.sendgrid_api_key})")


def create_app():
    app = create_real_app()
    app.register_blueprint(bp)
    return app
