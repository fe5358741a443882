"""One job per Idempotency-Key: a client that got no answer sends again and gets the first job, not a second email.

The job id derives from the key and recipient, so the job is the key's record. Two requests arriving
together must not both enqueue it: RQ's ``unique=True`` enqueue checks and stores in one Lua script, and
the loser (``DuplicateJobError``) answers with the winner's job. A request failing half way leaves nothing.
"""

import hashlib
from collections.abc import Callable

from rq.exceptions import DuplicateJobError
from rq.job import Job

from web.job_status import find_job

KEY_MAX = 255


def key_problem(key: str) -> str | None:
    return None if 1 <= len(key) <= KEY_MAX and key.isprintable() else f"Idempotency-Key must be 1 to {KEY_MAX} printable characters."


def job_id_for(key: str, recipient: str) -> str:
    # Scoped to the recipient, so someone else's key never finds your job.
    digest = hashlib.sha256(f"{key}\0{recipient.lower()}".encode()).hexdigest()
    return f"idem-{digest[:40]}"


def enqueue_once(job_id: str, enqueue: Callable[..., Job]) -> tuple[Job, bool]:
    """A new job from ``enqueue(job_id=..., unique=True)``, or the one an earlier request created with ``job_id``;
    and whether it is new. Enqueueing first costs a repeat nothing extra, and a new request no lookup."""
    try:
        return enqueue(job_id=job_id, unique=True), True
    except DuplicateJobError:
        if (earlier := find_job(job_id)) is None:  # existed a moment ago: gone at once is a bug, not a race
            raise
        return earlier, False
