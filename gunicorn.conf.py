"""gunicorn settings for the web dyno (the Procfile's ``web:`` line).

Each setting says why it differs from gunicorn's default. Reference:
https://docs.gunicorn.org/en/stable/settings.html and Heroku's own
https://github.com/heroku/python-getting-started/blob/main/gunicorn.conf.py
"""

from jobs.core.settings import load_settings

_settings = load_settings()

# Heroku routes traffic to $PORT. "[::]" listens on IPv6 and, on Linux, IPv4
# too, which Heroku's newer router and Private Spaces need.
# https://devcenter.heroku.com/articles/runtime-principles#web-servers
bind = [f"[::]:{_settings.port}"]

# Heroku sets WEB_CONCURRENCY from the dyno's memory; 2 processes fit a
# 512 MB dyno. https://devcenter.heroku.com/articles/python-concurrency
workers = _settings.web_concurrency

# Sync workers: every request is short (it only enqueues), so no request ties
# a process up for long, and each process answers one request at a time with
# no thread or event loop in the way. This subclass also answers the requests
# queued at the dyno when SIGTERM comes, which plain sync workers drop (the
# router then answers H13, gunicorn issue #3397): web/gunicorn_worker.py.
#
# A sync worker closes the connection after each response, so Heroku's
# Router 2.0, which would otherwise keep idle connections to the dyno open
# for 90 s, opens a new one per request, and gunicorn's `keepalive` setting
# would do nothing here: it is not set. gthread, heroku/python-getting-started's
# choice, honours keepalive and measured no slower (docs/benchmarks.md,
# "gunicorn worker class"), but it would also close idle keep-alive
# connections at SIGTERM that the router may be sending a request down at
# that moment; the deploy guarantee (README "Guarantees") is proven with this one.
# https://docs.gunicorn.org/en/stable/settings.html#keepalive
# https://devcenter.heroku.com/articles/http-routing#keepalives
worker_class = "web.gunicorn_worker.DrainingSyncWorker"

# Load the app once in the master, before forking: workers share its memory
# pages and start faster, and (off Heroku, without SECRET_KEY) share the one
# random secret key, so CSRF tokens work whichever worker answers.
preload_app = True

# Heroku's router gives up on a request after 30 s (H12), so a request that
# runs longer is already lost; kill its worker a little before that.
# https://devcenter.heroku.com/articles/request-timeout
timeout = 25

# On SIGTERM Heroku waits 30 s before SIGKILL; finish in-flight requests well
# within that. https://devcenter.heroku.com/articles/dynos#shutdown
graceful_timeout = 20

# Heroku's logs are whatever goes to stdout/stderr; "-" means stdout.
accesslog = "-"
errorlog = "-"
# logfmt, like the app's own lines. request_id is the response's X-Request-ID:
# Heroku's router's id, or the one the app made when there was none
# (web/request_id.py), so it matches the app's lines for the request.
access_log_format = (
    'at=info logger=gunicorn.access method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s duration_ms=%(M)s request_id=%({x-request-id}o)s'
)
# gunicorn's own lines (worker boots, timeouts) in logfmt too, on stdout. The
# access lines are already logfmt, so their handler prints them as they are.
# The app replaces the root handler with the same formatter (jobs/core/logging_setup.py).
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

# Which peers gunicorn believes when they send X-Forwarded-Proto (or -Protocol,
# -Ssl: the request's scheme) and the SCRIPT_NAME and PATH_INFO headers (where
# the app is mounted). gunicorn's default is the FORWARDED_ALLOW_IPS environment
# variable, and Heroku's Python buildpack exports FORWARDED_ALLOW_IPS='*' on
# every dyno: gunicorn would then believe those headers from anyone, and the
# router passes a client's own headers on, so a client could send
# "SCRIPT_NAME: /api" and change which view answers and the URLs the app
# builds. FibTastic trusts the router's one hop itself, in one place
# (web/heroku_https.py, werkzeug's ProxyFix: X-Forwarded-For and -Proto), so
# gunicorn trusts no peer, whatever the environment says.
# https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
# https://github.com/heroku/heroku-buildpack-python/blob/main/vendor/python.gunicorn.sh
forwarded_allow_ips = ""

# gunicorn 25.1+ opens a control socket at one fixed path in $HOME; a second
# gunicorn on the same machine (tests, `heroku local`, two checkouts) would
# take it over. Nothing here uses `gunicornc`, so leave it off.
# https://docs.gunicorn.org/en/stable/settings.html#control-socket
control_socket_disable = True
