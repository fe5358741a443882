"""The request id from Heroku's router, on every log line of the request.

Heroku's router gives each request an ``X-Request-ID`` (a UUID) and logs it as
``request_id=`` on its own router line
(https://devcenter.heroku.com/articles/http-request-id). We reuse it when it
looks like one, or make one when the request came some other way, then: bind it
to the request's log lines, tag Sentry events with it, hand it to jobs the
request enqueues (jobs.core.enqueue_policy.enqueue), and echo it in the response, where
gunicorn's access log line picks it up.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from jobs.core import log_context
from jobs.core.error_reporting import set_tags

HEADER = "X-Request-ID"


def register(app: Flask) -> None:
    """Call before anything else adds before_request hooks (CSRF, rate limits),
    so that requests they refuse are logged with an id too."""

    @app.before_request
    def bind_request_id() -> None:
        g.request_id = log_context.request_id_from_header(request.headers.get(HEADER))
        g.request_id_token = log_context.bind(request_id=g.request_id)
        set_tags(request_id=g.request_id)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response

    @app.teardown_request
    def unbind_request_id(_error: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            log_context.unbind(token)
