"""Retries: RQ's scheduler moves each failed job back to its queue once its retry interval is up
(jobs/core/enqueue_policy.py gives every job a ``Retry``), from RQ's ScheduledJobRegistry.

RQ runs its scheduler in a process each worker forks (``work(with_scheduler=True)``). Here it runs in a child
of ``python -m worker`` instead (worker/children.py): one per dyno rather than one per pool worker, each of
which held another Redis connection for its try at the lock, and one that waits out a Redis outage or a full
Redis where RQ's died with a traceback until a worker's maintenance started it again (docs/redis-plans.md).
RQ's lock still lets one scheduler per queue work, whatever the number of dynos.
"""

import logging
import os
import signal

from rq.scheduler import RQScheduler

from jobs.core.connection import connect_redis, redis_client_url
from jobs.core.settings import Settings
from worker.children import keep_running, pause
from worker.stop_signals import STOP_SIGNALS

log = logging.getLogger(__name__)


class RetryScheduler(RQScheduler):
    stop_requested = False

    def request_stop(self, signum=None, frame=None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)


def run_retry_scheduler(settings: Settings) -> None:
    """The child process's loop, until SIGTERM."""
    scheduler = RetryScheduler(
        [settings.queue_name], connection=connect_redis(redis_client_url(settings)), logging_level=settings.log_level
    )
    # What RQ's loop installs when it starts; here also while waiting for the lock or for Redis.
    for signum in STOP_SIGNALS:
        signal.signal(signum, scheduler.request_stop)

    def schedule() -> None:
        # As RQ's worker does: the lock first (another dyno's scheduler may hold it: try again as often as a
        # worker's maintenance would), then RQ's loop, which keeps the lock and returns once asked to stop.
        while not scheduler.acquire_locks():
            if pause(settings.worker_maintenance_interval, lambda: scheduler.stop_requested):
                return
        scheduler.work()

    log.info("Scheduler for %s started with PID %d (retries)", settings.queue_name, os.getpid())
    keep_running(schedule, "retries", stopped=lambda: scheduler.stop_requested)
