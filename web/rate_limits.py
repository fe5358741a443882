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

A recipient's slot is taken before the view, in one atomic Redis call, and
given back after any answer that did not accept a new submission: however many
requests arrive at once, at most the limit are accepted (a check before the view
and a count after it let every request running at once through).

The client IP is ``request.remote_addr``; on Heroku, ProxyFix (heroku_https.py)
has already replaced it with the one address Heroku's router appended to
X-Forwarded-For, which a client cannot forge.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from redis import Redis
from redis.exceptions import RedisError

from jobs.core.connection import redis_client_url
from jobs.core.settings import ConfigurationError, Settings
from web import app_resources

log = logging.getLogger(__name__)

# Submissions that enqueued a job: the API's 202 and the form's 303.
ACCEPTED_STATUSES = frozenset({202, 303})

LIMITER_OPTIONS = {
    "key_prefix": "fibtastic-limits",
    # X-RateLimit-* headers on every response would cost a Redis round trip
    # each; the 429 carries Retry-After (errors.py).
    "headers_enabled": False,
    # Swallowed (flask-limiter logs it; logging_setup prints a Redis outage as
    # one line): a limit Redis cannot check lets the request through to the
    # enqueue, which meets the same outage and answers 503.
    "swallow_errors": True,
}

per_ip_limiter = Limiter(get_remote_address, strategy="moving-window", **LIMITER_OPTIONS)

# Every request to a recipient takes a slot up front (flask-limiter's hit: one
# atomic Redis script, so requests running at once cannot all see room), and one
# that accepts nothing new gives it back. limits' public API can give back only
# a counter's slot (Storage.incr with a negative amount): a moving window's
# entries cannot be taken out one by one, and the sliding-window counter's keys
# are named by private methods. So a fixed window: it starts at a recipient's
# first submission and allows the limit until it ends; the price is that a
# burst at the turn of a window can reach twice the limit. (Counting every
# attempt, as the per-IP limit does, would need no give-back but would let a
# person's typos use up their allowance.)
per_recipient_limiter = Limiter(get_remote_address, strategy="fixed-window", **LIMITER_OPTIONS)

per_client_ip = per_ip_limiter.shared_limit(lambda: app_resources.settings().rate_limit_per_ip, scope="submissions-per-ip")


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

    return per_recipient_limiter.shared_limit(
        lambda: app_resources.settings().rate_limit_per_recipient, scope="submissions-per-recipient", key_func=recipient_key
    )


def give_back_recipient_slot() -> None:
    """Give this request's recipient slot back when it ends, though it answers
    as accepted: it repeats a submission that was counted (Idempotency-Key)."""
    g.fibtastic_repeat_submission = True


def give_back_unless_accepted(response: Response) -> Response:
    if response.status_code in ACCEPTED_STATUSES and not g.get("fibtastic_repeat_submission"):
        return response
    # The slots this request took (refused over one limit, it took the ones
    # before it and the breached one too: a fixed window counts every hit). A
    # window that ended meanwhile starts the next one at -1: one more in that
    # window, once, for a request that straddled its end.
    for taken in per_recipient_limiter.current_limits:
        try:
            per_recipient_limiter.storage.incr(taken.key, taken.limit.get_expiry(), amount=-1)
        except RedisError as error:
            # The answer stands: after an enqueue, an error would make the
            # client retry and get a second email. The person's allowance is
            # one short until the window ends.
            log.warning("could not give back a recipient's rate limit slot: %s", error)
            break
    return response


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
    per_ip_limiter.init_app(app)
    per_recipient_limiter.init_app(app)
    app.after_request(give_back_unless_accepted)


def retry_after_seconds(default: int = 60) -> int:
    """Seconds until the limit this request broke lets a submission through again."""
    checked = (per_ip_limiter.current_limit, per_recipient_limiter.current_limit)
    breached = next((limit for limit in checked if limit and limit.breached), None)
    if breached is None:
        return default
    try:
        return max(1, math.ceil(breached.reset_at - time.time()))
    except RedisError:  # Redis went away between the check and now
        return default
