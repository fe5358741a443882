"""rq-dashboard under /rq behind basic auth, or a 404 (docs/operating.md). Only one of the two
credentials set is not an error: the Deploy button generates only the password, and that app must boot."""

import hmac
import logging
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from redis import Redis

from jobs.core.connection import redis_client_url
from jobs.core.error_reporting import scrub
from jobs.core.privacy import mask_emails_in
from jobs.core.settings import Settings
from web.security_headers import DASHBOARD_CONTENT_SECURITY_POLICY

log = logging.getLogger(__name__)

URL_PREFIX = "/rq"
REALM = "FibTastic queue dashboard"


class SharedRedisFlask(Flask):
    """Flask, whose ``redis_conn``, the attribute rq-dashboard reads its Redis client from, is always the app's
    own client (web/__init__.py), so the dashboard adds no connections to the plan's limit (mini: 20).

    Workaround: rq-dashboard 0.9.0 builds a new client, with a pool of its own, on every request to a page
    or JSON endpoint (``push_rq_connection``, since https://github.com/Parallels/rq-dashboard/pull/292) and
    stores it here; each opens a connection that closes only when the garbage collector gets to it. It has
    no setting to pass a client in. The clients it builds have not connected yet, so ignoring them opens
    nothing. tests/test_dashboard.py says when rq-dashboard stops building them and this can go."""

    @property
    def redis_conn(self) -> Redis:
        return self.extensions["fibtastic"]["redis"]

    @redis_conn.setter
    def redis_conn(self, built_by_rq_dashboard: Redis) -> None:
        pass


def has_dashboard_credentials(settings: Settings) -> bool:
    """The request carries the dashboard's credentials (HTTP basic auth); never while the dashboard is off."""
    auth = request.authorization
    if not settings.rq_dashboard_enabled or auth is None or auth.type != "basic" or auth.username is None or auth.password is None:
        return False
    # Both, in constant time, always: timing tells nothing.
    user_ok = hmac.compare_digest(auth.username.encode(), (settings.rq_dashboard_username or "").encode())
    password_ok = hmac.compare_digest(auth.password.encode(), (settings.rq_dashboard_password or "").encode())
    return user_ok and password_ok


def _is_action() -> bool:
    """rq-dashboard's actions are the endpoints that accept POST; a GET to ``/rq/requeue/<queue>`` acts too."""
    return request.method not in ("GET", "HEAD") or (request.url_rule is not None and "POST" in (request.url_rule.methods or ()))


def _same_origin() -> bool:
    """Browsers resend basic-auth credentials cross-site too (an ``<img src>`` anywhere). Fetch metadata
    says where a request comes from ("none": typed); browsers without it send Origin or Referer."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return False
    source, here = urlsplit(origin), urlsplit(request.host_url)
    return (source.scheme, source.netloc) == (here.scheme, here.netloc)


def _is_dashboard_path() -> bool:
    return request.path == URL_PREFIX or request.path.startswith(URL_PREFIX + "/")


def mask_addresses(response: Response) -> None:
    """JSON value by value, so an address after an escape (``\\n``) cannot break it; static files hold no data."""
    if response.direct_passthrough or response.is_streamed:
        return
    if response.is_json:
        response.set_data(current_app.json.dumps(scrub(response.get_json(), secrets=())))
    else:
        response.set_data(mask_emails_in(response.get_data(as_text=True)))


def init_dashboard(app: Flask, settings: Settings) -> None:
    if not settings.rq_dashboard_enabled:
        if settings.rq_dashboard_username or settings.rq_dashboard_password:
            missing = "RQ_DASHBOARD_PASSWORD" if settings.rq_dashboard_username else "RQ_DASHBOARD_USERNAME"
            log.info("queue dashboard off: set %s too to turn it on at %s (heroku config:set %s=...)", missing, URL_PREFIX, missing)
        return
    import rq_dashboard

    app.config["RQ_DASHBOARD_REDIS_URL"] = [redis_client_url(settings)]
    # Show RQ's description (addresses masked, jobs/tasks.py), not the raw arguments.
    app.config["RQ_DASHBOARD_SHOW_FULL_ARGS"] = False
    rq_dashboard.web.setup_rq_connection(app)

    @app.before_request
    def require_dashboard_credentials() -> Response | None:
        if not _is_dashboard_path():
            return None
        if not has_dashboard_credentials(settings):
            return Response(
                "Authentication required.\n",
                401,
                {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"', "Cache-Control": "no-store"},
                mimetype="text/plain",
            )
        if _is_action() and not _same_origin():
            return Response("Cross-site request refused.\n", 403, mimetype="text/plain")
        return None

    @app.after_request
    def dashboard_answers(response: Response) -> Response:
        if _is_dashboard_path():
            mask_addresses(response)
            response.headers["Content-Security-Policy"] = DASHBOARD_CONTENT_SECURITY_POLICY
            response.headers["Cache-Control"] = "no-store"
        return response

    # The dashboard's forms post without a CSRF token; basic auth, not a
    # session cookie, authorises them, and the same-origin check above stands in.
    from web import csrf

    csrf.exempt(rq_dashboard.blueprint)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
