"""The example periodic job (QUEUE_REPORT_SCHEDULE): one log line showing a backlog or failed jobs piling up."""

from __future__ import annotations

import logging

from rq import Queue, get_current_job

log = logging.getLogger(__name__)


def report_queue() -> dict[str, int]:
    job = get_current_job()
    queue = Queue(job.origin, connection=job.connection)
    # cleanup=False: a report reads the registries, it does not change them.
    counts = {
        "queued": queue.count,
        "started": queue.started_job_registry.get_job_count(cleanup=False),
        "scheduled": queue.scheduled_job_registry.get_job_count(cleanup=False),
        "failed": queue.failed_job_registry.get_job_count(cleanup=False),
    }
    log.info("queue report queue=%s %s", queue.name, " ".join(f"{name}={count}" for name, count in counts.items()))
    return counts
