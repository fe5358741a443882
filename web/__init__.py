"""The FibTastic web app: a form, a status page and a JSON API that enqueue jobs.

Run it with ``gunicorn "web:create_app()"`` (see the Procfile) or, while
developing, ``flask --app web run --debug``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.core.error_reporting import init_sentry
from jobs.core.logging_setup import configure_logging
from jobs.core.redis_memory import warn_if_redis_evicts
from jobs.core.settings import Settings, load_settings
from web.dashboard import SharedRedisFlask

log = logging.getLogger(__name__)

csrf = CSRFProtect()

# The form and the API take a few dozen bytes; refuse anything much larger
# before reading it (413).
MAX_BODY_BYTES = 16 * 1024


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may override Flask config and, under the
    key ``FIBTASTIC_SETTINGS``, the settings otherwise read from the environment."""
    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("FIBTASTIC_SETTINGS", None) or load_settings()
    if settings.on_heroku:
        settings.check_for_production()
    if not test_config.get("TESTING"):
        configure_logging(settings.log_level)
        from sentry_sdk.integrations.flask import FlaskIntegration

        init_sentry(settings, [FlaskIntegration()])

    # Flask, with the dashboard reading Redis through the app's one connection pool (web/dashboard.py).
    app = SharedRedisFlask(__name__)
    app.config.from_mapping(
        # Off Heroku a missing SECRET_KEY gets a random one per process: safe,
        # but sessions and CSRF tokens then end with the process. gunicorn's
        # preload_app shares one across its workers (gunicorn.conf.py).
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.on_heroku,
        # The CSRF token lives in the session; a form left open for a day
        # should still work.
        WTF_CSRF_TIME_LIMIT=24 * 60 * 60,
    )
    app.config.update(test_config)

    # Short socket timeouts: when Redis is down a request should fail in
    # about a second with a 503, not hang until the router gives up at 30 s.
    # No automatic retries: redis-py would re-run an enqueue whose reply was
    # lost, pushing the job twice; the client retries on the 503 instead.
    # The rate limiter uses this connection pool too (web/rate_limits.py).
    redis = connect_redis(redis_client_url(settings), socket_timeout=2, retry=Retry(NoBackoff(), 0))
    # Once per boot, before any request (in gunicorn's master: preload_app), on a connection closed again
    # before the workers fork. Redis down: nothing said, nothing waited for but the connect timeout.
    with connect_redis(redis_client_url(settings), socket_timeout=2, retry=Retry(NoBackoff(), 0)) as boot_check:
        warn_if_redis_evicts(boot_check, log)
    app.extensions["fibtastic"] = {"settings": settings, "redis": redis, "queue": get_queue(redis, settings)}

    from web import api, dashboard, errors, health, heroku_https, pages, rate_limits, request_id, security_headers

    # First, so requests that are redirected, or refused by CSRF or a rate
    # limit, carry an id too.
    request_id.register(app)
    if settings.on_heroku:
        # Next, so plain-HTTP requests are redirected before anything else.
        heroku_https.register(app)
    csrf.init_app(app)
    rate_limits.init_app(app, settings, redis)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    dashboard.init_dashboard(app, settings)
    errors.register(app)
    security_headers.register(app)
    return app
