"""gunicorn settings for the web dyno, each with why it differs from the default
(https://docs.gunicorn.org/en/stable/settings.html; Heroku's: https://github.com/heroku/python-getting-started/blob/main/gunicorn.conf.py)."""

import sys

from jobs.core.settings import ConfigurationError, load_settings

try:
    _settings = load_settings()
except ConfigurationError as error:
    # One line that names the setting, as create_app's own ConfigurationError (gunicorn prints a RuntimeError
    # from the app as "Error: ..."); gunicorn would bury one raised here in a traceback of its config loader.
    sys.exit(f"Error: {error}")

# $PORT; "[::]" is IPv6 and (on Linux) IPv4, as Heroku's newer router and Private Spaces need.
# https://devcenter.heroku.com/articles/runtime-principles#web-servers
bind = [f"[::]:{_settings.port}"]

# Heroku sets WEB_CONCURRENCY from the dyno's memory; 2 suits 512 MB. https://devcenter.heroku.com/articles/python-concurrency
workers = _settings.web_concurrency

# Sync workers: every request is short (it only enqueues), and each connection is closed, so `keepalive` is
# not set. This subclass answers the requests queued at SIGTERM (docs/guarantees.md); gthread measured no
# faster and would close keep-alive connections the router may be sending a request down (docs/benchmarks.md).
# https://github.com/benoitc/gunicorn/issues/3397 https://devcenter.heroku.com/articles/http-routing#keepalives
worker_class = "web.gunicorn_worker.DrainingSyncWorker"

# Workers share memory pages, start faster, and (without SECRET_KEY) share one random secret key,
# so CSRF tokens work whichever worker answers.
preload_app = True

# Heroku's router gives up after 30 s (H12): https://devcenter.heroku.com/articles/request-timeout
timeout = 25

# Heroku sends SIGKILL 30 s after SIGTERM: https://devcenter.heroku.com/articles/dynos#shutdown
graceful_timeout = 20

# Heroku's logs are stdout; "-" means stdout.
accesslog = "-"
errorlog = "-"
# logfmt; request_id is the response's X-Request-ID (web/request_id.py), matching the app's lines.
access_log_format = (
    'at=info logger=gunicorn.access method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s request_id=%({x-request-id}o)s'
)
# gunicorn's own lines in logfmt too (jobs/core/logging_setup.py); access lines are already logfmt.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["logfmt"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["logfmt"], "propagate": False, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False, "qualname": "gunicorn.access"},
    },
    "handlers": {
        "logfmt": {"class": "logging.StreamHandler", "formatter": "logfmt", "stream": "ext://sys.stdout"},
        "access": {"class": "logging.StreamHandler", "formatter": "as_is", "stream": "ext://sys.stdout"},
    },
    "formatters": {
        "logfmt": {"()": "jobs.core.logging_setup.LogfmtFormatter"},
        "as_is": {"()": "jobs.core.logging_setup.MaskedMessageFormatter"},
    },
}

# Heroku's buildpack exports FORWARDED_ALLOW_IPS='*': gunicorn would believe any client's SCRIPT_NAME ("/api"
# changes which view answers). The app trusts the router's one hop itself (web/heroku_https.py).
# https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
# https://github.com/heroku/heroku-buildpack-python/blob/main/vendor/python.gunicorn.sh
forwarded_allow_ips = ""

# gunicorn 25.1+ opens a control socket at a fixed path in $HOME, which a second gunicorn on the
# machine would take over; nothing here uses `gunicornc`.
# https://docs.gunicorn.org/en/stable/settings.html#control-socket
control_socket_disable = True


def post_worker_init(worker):
    """Each process opens its Redis connection as it starts, not at its first request (web/app_resources.py).
    https://docs.gunicorn.org/en/stable/settings.html#post-worker-init"""
    from web import app_resources

    app_resources.connect_now(worker.wsgi)
