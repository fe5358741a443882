"""Errors as JSON under /api/ and as pages elsewhere; never a stack trace."""

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import redis.exceptions
from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from jobs.core.connection import REDIS_DOWN
from jobs.core.redis_memory import is_redis_full

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

MESSAGES = {
    404: "There is nothing at this address.",
    413: "The request body is too large.",
    429: "Too many requests. Please wait a little and try again.",
    500: "Something went wrong on our side. It has been reported.",
    503: "We cannot take new requests right now. Please try again in a few seconds.",
}


def error_response(status: int, title: str, message: str, field: str = "request", retry_after: int | None = None) -> Response:
    if request.path.startswith("/api/"):
        response = jsonify({"errors": {field: message}})
    else:
        response = make_response(render_template("error.html", status=status, title=title, message=message))
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = MESSAGES.get(status) or (f"{request.method} is not allowed here." if status == 405 else error.description)
    response = error_response(status, error.name, message)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


FORM_EXPIRED = "The form expired. Please check it and submit again."
# Where no view shows its form again: what happened, and what to do.
FORM_EXPIRED_ELSEWHERE = (
    "The form expired, or your browser did not send its cookie, so nothing was done. Reload the form and submit it again."
)


def shows_form_again(render: Callable[[str], str]) -> Callable:
    """For a view that takes a form: when its CSRF token is refused, ``render(message)`` shows that form again
    with what was typed and ``message``. Views without it get a page that says what happened and links back."""

    def declare(view: Callable) -> Callable:
        view.show_form_again = render
        return view

    return declare


def _same_origin_referrer() -> str | None:
    """The page the form was on, if it is on this site (never a link elsewhere)."""
    referrer = request.headers.get("Referer")
    if not referrer:
        return None
    source, here = urlsplit(referrer), urlsplit(request.host_url)
    return referrer if (source.scheme, source.netloc) == (here.scheme, here.netloc) else None


def handle_csrf_error(error: CSRFError):
    # Usually a form left open past its session, or cookies blocked: nothing was done; show the form again, with
    # a fresh token, or say so and link back to it.
    render = getattr(current_app.view_functions.get(request.endpoint or ""), "show_form_again", None)
    if render is not None:
        return render(FORM_EXPIRED), 400
    page = render_template("error.html", status=400, title="The form expired", message=FORM_EXPIRED_ELSEWHERE, back=_same_origin_referrer())
    return page, 400


def handle_redis_down(error: redis.exceptions.RedisError) -> Response:
    log.error("redis unavailable: %s", error)
    return error_response(503, "Service Unavailable", MESSAGES[503], field="service", retry_after=RETRY_AFTER_SECONDS)


def handle_redis_full(error: redis.exceptions.ResponseError) -> Response:
    if not is_redis_full(error):
        raise error  # a transaction aborted for another reason: a bug, answered 500 and reported
    # A warning, not an error: Sentry would get an event per refused request. /healthz says "full".
    log.warning("redis is full: writes refused (%s), answering 503 until there is room", type(error).__name__)
    return error_response(503, "Service Unavailable", MESSAGES[503], field="service", retry_after=RETRY_AFTER_SECONDS)


class DropSwallowedRedisErrors(logging.Filter):
    """Drops flask-limiter's line (an error, with its traceback, and so a Sentry event) for a Redis that is down
    or full: web/rate_limits.py has it swallow them, and the request meets the same Redis when it enqueues,
    where web/errors.py answers 503 and logs it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or not (isinstance(error, REDIS_DOWN) or is_redis_full(error))


# One instance: addFilter adds it once, however many apps a process creates.
drop_swallowed_redis_errors = DropSwallowedRedisErrors()


def handle_rate_limited(error: RateLimitExceeded) -> Response:
    from web.rate_limits import retry_after_seconds

    return error_response(429, "Too Many Requests", MESSAGES[429], retry_after=retry_after_seconds())


def handle_unexpected(error: InternalServerError) -> Response:
    return error_response(500, "Internal Server Error", MESSAGES[500])


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(HTTPException, handle_http_error)
    # ReadOnlyError: after a failover we talk to the old primary, now a replica, until we reconnect.
    for redis_down in (*REDIS_DOWN, redis.exceptions.ReadOnlyError):
        app.register_error_handler(redis_down, handle_redis_down)
    # OOM from a write; EXECABORT from RQ's enqueue, a MULTI/EXEC (jobs/core/enqueue_policy.py).
    for redis_full in (redis.exceptions.OutOfMemoryError, redis.exceptions.ExecAbortError):
        app.register_error_handler(redis_full, handle_redis_full)
    logging.getLogger("flask-limiter").addFilter(drop_swallowed_redis_errors)
    app.register_error_handler(InternalServerError, handle_unexpected)
