"""One job per Idempotency-Key.

A client that got no answer (a timeout, or a 503 while Redis restarts: Redis
may have stored the job and then failed to say so) cannot know whether its
request was accepted. With the same Idempotency-Key, sending it again returns
the job the first one created instead of a second email.

The job id is derived from the key and the recipient, so the job itself is
the lasting record of the key. What must not happen is two requests with the
same key, arriving together, both finding no job and both enqueueing one: RQ
would queue the same id twice and run it twice. So the request that finds no
job claims the key first (SET NX) and only the one that claims it enqueues;
another that finds the claim but no job yet gets a 409 Conflict, and its
retry a moment later finds the job.
"""

from __future__ import annotations

import hashlib

from rq.job import Job
from werkzeug.exceptions import Conflict

from web import app_resources
from web.job_status import find_job

KEY_MAX = 255
# Longer than any request that holds the claim can still be running: gunicorn
# kills a worker whose request has taken 25 s (gunicorn.conf.py). If that
# request died before enqueueing, the key is free again after this long.
CLAIM_SECONDS = 30
# What a 409 asks the client to wait: the request holding the claim is
# usually a Redis round trip from done.
RETRY_AFTER_SECONDS = 1


class KeyInUse(Conflict):
    """Another request with this key is creating its job right now."""

    description = "Another request with this Idempotency-Key is being processed. Send this one again in a second to get the job it created."


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a usable Idempotency-Key, or None if it is."""
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
        return f"Idempotency-Key must be 1 to {KEY_MAX} printable characters."
    return None


def job_id_for(key: str, recipient: str) -> str:
    # Scoped to the recipient, so someone else's key never finds your job.
    digest = hashlib.sha256(f"{key}\0{recipient.lower()}".encode()).hexdigest()
    return f"idem-{digest[:40]}"


def claim_key(job_id: str) -> str:
    return f"fibtastic:idempotency:{job_id}"


def earlier_job_or_claim(job_id: str) -> Job | None:
    """The job an earlier request with this key created, or None when this
    request has claimed the key and must enqueue the job with ``job_id``.

    Raises :class:`KeyInUse` while another request holds the claim and has
    not stored its job yet.
    """
    earlier = find_job(job_id)
    if earlier is not None:
        return earlier
    if app_resources.redis().set(claim_key(job_id), job_id, nx=True, ex=CLAIM_SECONDS):
        return None
    # Claimed by another request: it may have stored the job since we looked.
    earlier = find_job(job_id)
    if earlier is not None:
        return earlier
    raise KeyInUse()
