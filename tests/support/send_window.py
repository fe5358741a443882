"""A guarded job claims its run (``fibtastic:once:claim:<id>``, holding
``<worker name>/<pid>``) before talking to the provider and records it done
(``fibtastic_done_at`` in the job's hash) once the provider accepts. A SIGKILL between the
two is the at-least-once window of docs/guarantees.md: tests that promise one email
under SIGKILL avoid it."""

from __future__ import annotations

from redis import Redis
from rq.worker import Worker

from jobs.core.at_most_once import claim_key, is_done


def sending_unrecorded(connection: Redis, pid: int) -> bool:
    """Whether the worker process ``pid`` (or its work-horse) holds a claim whose job is not recorded as done."""
    names = {worker.name for worker in Worker.all(connection=connection) if worker.pid == pid}
    prefix = claim_key("")
    for key in connection.scan_iter(match=prefix + "*"):
        holder = connection.get(key)
        job_id = key.decode().removeprefix(prefix)
        if holder is not None and holder.decode().rpartition("/")[0] in names and not is_done(connection, job_id):
            return True
    return False
