"""One job per Idempotency-Key.

A client that got no answer (a timeout, or a 503 while Redis restarts: Redis
may have stored the job and then failed to say so) cannot know whether its
request was accepted. With the same Idempotency-Key, sending it again returns
the job the first one created instead of a second email.

The job id is derived from the key and the recipient, so the job itself is
the record of the key. Two requests with the same key arriving together must
not both enqueue it (RQ would queue the id twice): RQ's ``unique=True``
enqueue checks and stores the job in one Lua script, and the loser gets
``DuplicateJobError`` and answers with the winner's job. Nothing is left
behind by a request that fails half way, so a retry never has to wait.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from rq.exceptions import DuplicateJobError
from rq.job import Job

from web.job_status import find_job

KEY_MAX = 255


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a usable Idempotency-Key, or None if it is."""
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
        return f"Idempotency-Key must be 1 to {KEY_MAX} printable characters."
    return None


def job_id_for(key: str, recipient: str) -> str:
    # Scoped to the recipient, so someone else's key never finds your job.
    digest = hashlib.sha256(f"{key}\0{recipient.lower()}".encode()).hexdigest()
    return f"idem-{digest[:40]}"


def enqueue_once(job_id: str, enqueue: Callable[..., Job]) -> Job:
    """The job with ``job_id``: the one an earlier request created, or a new
    one from ``enqueue(job_id=..., unique=True)``."""
    if (earlier := find_job(job_id)) is not None:
        return earlier
    try:
        return enqueue(job_id=job_id, unique=True)
    except DuplicateJobError:
        # A request with the same key stored it since we looked.
        if (earlier := find_job(job_id)) is None:  # gone again at once: not a race, a bug
            raise
        return earlier
