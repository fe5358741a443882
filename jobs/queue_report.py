"""The example periodic job: one log line on how the queue is doing.

jobs/schedule.py has the worker enqueue it on QUEUE_REPORT_SCHEDULE (every
10 minutes by default). A log drain or ``heroku logs`` then shows a backlog
building up, or failed jobs piling up, without opening the dashboard.
"""

from __future__ import annotations

import logging

from rq import Queue, get_current_job

log = logging.getLogger(__name__)


def report_queue() -> dict[str, int]:
    """Log the queue's depth and its started, scheduled and failed jobs."""
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
