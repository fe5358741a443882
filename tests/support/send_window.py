"""A job claims its send (``fibtastic:sending:<id>``, holding the worker's
name) before talking to the provider and records it (``fibtastic:sent:<id>``)
once the provider accepts. A SIGKILL between the two is README "Guarantees"'
at-least-once window: tests that promise one email under SIGKILL avoid it."""

from __future__ import annotations

from redis import Redis
from rq.worker import Worker

from jobs.tasks import sending_claim_key, sent_marker_key


def sending_unrecorded(connection: Redis, pid: int) -> bool:
    """Whether the worker process ``pid`` holds a claim to send whose email is not recorded as sent."""
    names = {worker.name for worker in Worker.all(connection=connection) if worker.pid == pid}
    prefix = sending_claim_key("")
    for key in connection.scan_iter(match=prefix + "*"):
        holder = connection.get(key)
        job_id = key.decode().removeprefix(prefix)
        if holder is not None and holder.decode() in names and not connection.exists(sent_marker_key(job_id)):
            return True
    return False
