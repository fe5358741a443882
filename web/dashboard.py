"""rq-dashboard under /rq, behind HTTP basic auth, or not at all.

Mounted only when RQ_DASHBOARD_USERNAME and RQ_DASHBOARD_PASSWORD are both
set; otherwise /rq answers 404 like any unknown address. Only one of them set
is not an error: the Deploy button generates the password and leaves the user
name to the user (app.json), and that app must boot; it logs one line saying
what to set instead. Every request under
/rq (pages, static files and the JSON endpoints that list jobs, their
descriptions, results and errors) needs the credentials. It reads the same
Redis as the app, with the same JSON serializer.
"""

from __future__ import annotations

import hmac
import logging
from functools import partial
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, request
from rq import Worker, requeue_job
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.core.settings import Settings

log = logging.getLogger(__name__)

URL_PREFIX = "/rq"
REALM = "FibTastic queue dashboard"
# rq-dashboard's pages use inline scripts, underscore templates (new
# Function) and inline styles, which the app's own policy forbids. Under /rq
# only, behind the credentials, allow those; everything else stays as strict.
DASHBOARD_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def dashboard_redis_url(url: str) -> str:
    """rq-dashboard opens its own connections from a URL, so Heroku Redis's
    "no certificate verification" has to travel inside it (redis-py reads
    ssl_cert_reqs from the query string)."""
    parts = urlsplit(url)
    if parts.scheme != "rediss":
        return url
    query = dict(parse_qsl(parts.query))
    query.setdefault("ssl_cert_reqs", "none")
    return urlunsplit(parts._replace(query=urlencode(query)))


def _authorised(settings: Settings) -> bool:
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.username is None or auth.password is None:
        return False
    # Compare both in constant time, and both always, so timing tells nothing.
    user_ok = hmac.compare_digest(auth.username.encode(), (settings.rq_dashboard_username or "").encode())
    password_ok = hmac.compare_digest(auth.password.encode(), (settings.rq_dashboard_password or "").encode())
    return user_ok and password_ok


def _same_origin() -> bool:
    """Browsers resend basic-auth credentials on cross-site requests too, so a
    POST (requeue, delete, empty) must come from a page of this site."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return False
    source, here = urlsplit(origin), urlsplit(request.host_url)
    return (source.scheme, source.netloc) == (here.scheme, here.netloc)


def _is_dashboard_path() -> bool:
    return request.path == URL_PREFIX or request.path.startswith(URL_PREFIX + "/")


class JsonWorker(Worker):
    """rq-dashboard 0.9.0 lists workers with ``Worker.all(connection=...)``,
    without a serializer, so a busy worker's current job is read as pickle
    and the workers view fails with DeserializationError."""

    @classmethod
    def all(cls, connection=None, job_class=None, queue_class=None, queue=None, serializer=None):
        return super().all(connection, job_class, queue_class, queue, serializer or JSONSerializer)


class JsonJob(Job):
    """Likewise its job page, delete and requeue call ``Job.fetch`` without one."""

    @classmethod
    def fetch(cls, id, connection=None, serializer=None):
        return super().fetch(id, connection, serializer or JSONSerializer)


def use_json_everywhere(dashboard_web) -> None:
    """Make every read rq-dashboard 0.9.0 does use our JSON serializer: its
    ``config.serializer`` covers queues and job lists, not the calls above."""
    dashboard_web.config.serializer = JSONSerializer
    dashboard_web.Worker = JsonWorker
    dashboard_web.Job = JsonJob
    dashboard_web.requeue_job = partial(requeue_job, serializer=JSONSerializer)


def init_dashboard(app: Flask, settings: Settings) -> None:
    if not settings.rq_dashboard_enabled:
        if settings.rq_dashboard_username or settings.rq_dashboard_password:
            missing = "RQ_DASHBOARD_PASSWORD" if settings.rq_dashboard_username else "RQ_DASHBOARD_USERNAME"
            log.info("queue dashboard off: set %s too to turn it on at %s (heroku config:set %s=...)", missing, URL_PREFIX, missing)
        return
    import rq_dashboard
    import rq_dashboard.web
    from rq_dashboard.web import setup_rq_connection

    # Jobs are JSON here (jobs/core/connection.py); rq-dashboard defaults to pickle.
    use_json_everywhere(rq_dashboard.web)
    app.config["RQ_DASHBOARD_REDIS_URL"] = [dashboard_redis_url(settings.redis_url)]
    # Show RQ's description (addresses masked, jobs/tasks.py), not the raw arguments.
    app.config["RQ_DASHBOARD_SHOW_FULL_ARGS"] = False
    setup_rq_connection(app)

    @app.before_request
    def require_dashboard_credentials() -> Response | None:
        if not _is_dashboard_path():
            return None
        if _authorised(settings):
            if request.method in ("GET", "HEAD") or _same_origin():
                return None
            return Response("Cross-site request refused.\n", 403, mimetype="text/plain")
        return Response(
            "Authentication required.\n",
            401,
            {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )

    @app.after_request
    def dashboard_headers(response: Response) -> Response:
        if _is_dashboard_path():
            response.headers["Content-Security-Policy"] = DASHBOARD_CONTENT_SECURITY_POLICY
            response.headers["Cache-Control"] = "no-store"
        return response

    # The dashboard's forms post without a CSRF token; basic auth, not a
    # session cookie, authorises them.
    from web import csrf

    csrf.exempt(rq_dashboard.blueprint)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
