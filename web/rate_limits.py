"""Rate limits on submissions, so nobody can use FibTastic as a spam relay.

Two limits apply to every POST that would enqueue an email (the form and the
API): one per client IP (``RATE_LIMIT_PER_IP``) counting every attempt, and
one per recipient address (``RATE_LIMIT_PER_RECIPIENT``) counting only
accepted submissions, so typos do not use up a person's allowance. Counters
live in the same Redis as the queue, so they hold across gunicorn processes
and dynos. Over a limit the answer is 429 with Retry-After (errors.py).

The client IP is ``request.remote_addr``; on Heroku, ProxyFix (https.py) has
already replaced it with the one address Heroku's router appended to
X-Forwarded-For, which a client cannot forge.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import Blueprint, Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from jobs.core.connection import redis_connection_options, url_without_certificate_check
from jobs.core.settings import ConfigurationError, Settings

# Submissions that enqueued a job: the API's 202 and the form's 303.
ACCEPTED_STATUSES = frozenset({202, 303})


def recipient_key() -> str:
    """The submitted address, normalised and hashed: limiter keys (and
    flask-limiter's "exceeded" log line) then carry no address."""
    if request.is_json:
        payload = request.get_json(silent=True)
        address = payload.get("email") if isinstance(payload, dict) else None
    else:
        address = request.form.get("email")
    normalised = address.strip().lower() if isinstance(address, str) else ""
    return "recipient:" + hashlib.sha256(normalised.encode("utf-8", "replace")).hexdigest()


def was_accepted(response: Response) -> bool:
    return response.status_code in ACCEPTED_STATUSES


def _check(name: str, value: str) -> str:
    try:
        if not parse_many(value):
            raise ValueError(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a rate like '10 per minute' or '5/hour', not {value!r}") from None
    return value


def storage_options(settings: Settings) -> dict:
    options = redis_connection_options()
    # While Redis is down a request should reach the 503 quickly: no retries,
    # short timeouts (the queue write after it fails the same way).
    options.update(socket_timeout=2, retry=Retry(NoBackoff(), 0))
    return options


class RedisDownWithoutTraceback(logging.Filter):
    """flask-limiter logs a swallowed storage error with its whole traceback,
    on every request while Redis is away. One line says as much."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, RedisError):
            record.msg = f"{record.getMessage()}: redis unavailable: {error}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def init_rate_limits(app: Flask, settings: Settings, submission_blueprints: list[Blueprint]) -> Limiter:
    per_ip = _check("RATE_LIMIT_PER_IP", settings.rate_limit_per_ip)
    per_recipient = _check("RATE_LIMIT_PER_RECIPIENT", settings.rate_limit_per_recipient)
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(existing, RedisDownWithoutTraceback) for existing in limiter_log.filters):
        limiter_log.addFilter(RedisDownWithoutTraceback())
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=url_without_certificate_check(settings.redis_url),
        storage_options=storage_options(settings),
        strategy="moving-window",
        key_prefix="fibtastic-limits",
        # X-RateLimit-* headers on every response would cost a Redis round
        # trip each; the 429 carries Retry-After (errors.py).
        headers_enabled=False,
        # If Redis is unreachable, let the request through: enqueueing then
        # fails the same way and answers 503, never a 500 from the limiter.
        swallow_errors=True,
    )
    # Shared: the form and the API draw on the same allowance.
    for blueprint in submission_blueprints:
        limiter.shared_limit(per_ip, scope="submissions-per-ip", methods=["POST"])(blueprint)
        limiter.shared_limit(
            per_recipient, scope="submissions-per-recipient", methods=["POST"], key_func=recipient_key, deduct_when=was_accepted
        )(blueprint)
    return limiter


def retry_after_seconds(limiter: Limiter, default: int = 60) -> int:
    """Seconds until the limit this request broke lets a submission through again."""
    breached = limiter.current_limit
    if breached is None:
        return default
    try:
        return max(1, math.ceil(breached.reset_at - time.time()))
    except RedisError:  # Redis went away between the check and now
        return default
