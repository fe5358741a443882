"""The example periodic job (QUEUE_REPORT_SCHEDULE): one log line showing a backlog or failed jobs piling up."""

import logging

from rq import Queue, get_current_job

from jobs.core.connection import registry_counts

log = logging.getLogger(__name__)


def report_queue() -> dict[str, int]:
    job = get_current_job()
    queue = Queue(job.origin, connection=job.connection)
    counts = {"queued": queue.count, **registry_counts(queue)}
    log.info("queue report queue=%s %s", queue.name, " ".join(f"{name}={count}" for name, count in counts.items()))
    return counts
