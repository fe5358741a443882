"""Rate limits, declared at the endpoints they protect, so nobody can use
FibTastic as a spam relay.

    @bp.post("/sequences")
    @rate_limits.per_client_ip
    @rate_limits.per_recipient("email")
    def create_sequence(): ...

``per_client_ip`` (``RATE_LIMIT_PER_IP``) counts every attempt from one
address; ``per_recipient(field)`` (``RATE_LIMIT_PER_RECIPIENT``) counts only
accepted submissions to the address in the request's ``field``, so typos do
not use up a person's allowance: put it only on endpoints that send to a
recipient. Each is shared by every endpoint it decorates (the form and the
API draw on one allowance). Counters live in the queue's Redis, so they hold
across gunicorn processes and dynos. Over a limit the answer is 429 with
Retry-After (errors.py).

The client IP is ``request.remote_addr``; on Heroku, ProxyFix (heroku_https.py)
has already replaced it with the one address Heroku's router appended to
X-Forwarded-For, which a client cannot forge.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from redis import Redis
from redis.exceptions import RedisError

from jobs.core.connection import redis_client_url
from jobs.core.settings import ConfigurationError, Settings
from web import app_resources

# Submissions that enqueued a job: the API's 202 and the form's 303.
ACCEPTED_STATUSES = frozenset({202, 303})

limiter = Limiter(
    get_remote_address,
    strategy="moving-window",
    key_prefix="fibtastic-limits",
    # X-RateLimit-* headers on every response would cost a Redis round trip
    # each; the 429 carries Retry-After (errors.py).
    headers_enabled=False,
    # Swallowed (flask-limiter logs it; logging_setup prints a Redis outage
    # as one line): the per-recipient count runs after the job is enqueued,
    # and Redis failing then must not turn an accepted submission into an
    # error the client would retry, sending a second email. Before the
    # enqueue, the enqueue itself meets the outage and answers 503.
    swallow_errors=True,
)

per_client_ip = limiter.shared_limit(lambda: app_resources.settings().rate_limit_per_ip, scope="submissions-per-ip")


def per_recipient(field: str) -> Callable:
    """The limit on accepted submissions to the address in ``field`` of the
    JSON body or form."""

    def recipient_key() -> str:
        # Normalised and hashed: limiter keys (and flask-limiter's "exceeded"
        # log line) then carry no address.
        payload = request.get_json(silent=True) if request.is_json else request.form
        address = payload.get(field) if isinstance(payload, dict) else None  # request.form is a dict too
        normalised = address.strip().lower() if isinstance(address, str) else ""
        return "recipient:" + hashlib.sha256(normalised.encode("utf-8", "replace")).hexdigest()

    return limiter.shared_limit(
        lambda: app_resources.settings().rate_limit_per_recipient,
        scope="submissions-per-recipient",
        key_func=recipient_key,
        deduct_when=lambda response: response.status_code in ACCEPTED_STATUSES,
    )


def _check(name: str, value: str) -> None:
    try:
        if not parse_many(value):
            raise ValueError(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a rate like '10 per minute' or '5/hour', not {value!r}") from None


def init_app(app: Flask, settings: Settings, redis: Redis) -> None:
    _check("RATE_LIMIT_PER_IP", settings.rate_limit_per_ip)
    _check("RATE_LIMIT_PER_RECIPIENT", settings.rate_limit_per_recipient)
    # The app's own connection pool, and with it its short timeouts and no
    # retries (web/__init__.py): while Redis is down a request reaches the 503
    # quickly.
    app.config.update(
        RATELIMIT_STORAGE_URI=redis_client_url(settings), RATELIMIT_STORAGE_OPTIONS={"connection_pool": redis.connection_pool}
    )
    limiter.init_app(app)


def retry_after_seconds(default: int = 60) -> int:
    """Seconds until the limit this request broke lets a submission through again."""
    breached = limiter.current_limit
    if breached is None:
        return default
    try:
        return max(1, math.ceil(breached.reset_at - time.time()))
    except RedisError:  # Redis went away between the check and now
        return default
