"""One job per Idempotency-Key: a client that got no answer sends again and gets the first job, not a second email.

The job id derives from the key and recipient, so the job is the key's lasting record. Two requests
arriving together must not both enqueue (RQ would run the id twice): the one that claims the key
(SET NX) enqueues; another gets a 409, and its retry a moment later finds the job.
"""

import hashlib

from rq.job import Job
from werkzeug.exceptions import Conflict

from web import app_resources
from web.job_status import find_job

KEY_MAX = 255
# Longer than gunicorn lets a request run (25 s, gunicorn.conf.py): then a claim whose request died frees itself.
CLAIM_SECONDS = 30
# The request holding the claim is usually a Redis round trip from done.
RETRY_AFTER_SECONDS = 1


class KeyInUse(Conflict):
    description = "Another request with this Idempotency-Key is being processed. Send this one again in a second to get the job it created."


def key_problem(key: str) -> str | None:
    return None if 1 <= len(key) <= KEY_MAX and key.isprintable() else f"Idempotency-Key must be 1 to {KEY_MAX} printable characters."


def job_id_for(key: str, recipient: str) -> str:
    # Scoped to the recipient, so someone else's key never finds your job.
    digest = hashlib.sha256(f"{key}\0{recipient.lower()}".encode()).hexdigest()
    return f"idem-{digest[:40]}"


def claim_key(job_id: str) -> str:
    return f"fibtastic:idempotency:{job_id}"


def earlier_job_or_claim(job_id: str) -> Job | None:
    """The job an earlier request with this key created, or None when this request claimed the key and
    must enqueue ``job_id``; :class:`KeyInUse` while another request holds the claim."""
    earlier = find_job(job_id)
    if earlier is None and app_resources.redis().set(claim_key(job_id), job_id, nx=True, ex=CLAIM_SECONDS):
        return None
    # Claimed by another request, which may have stored the job since we looked.
    earlier = earlier or find_job(job_id)
    if earlier is None:
        raise KeyInUse()
    return earlier
