"""The periodic jobs' scheduler, run by the worker dyno itself.

A separate ``rq cron`` process type would need a dyno of its own, and a
template whose scheduler nobody started runs its periodic jobs silently never.
So ``python -m worker`` forks a child that runs RQ's CronScheduler
(https://python-rq.org/docs/cron/) over the jobs listed in jobs/schedule.py,
as RQ's worker forks its own scheduler for retries (``with_scheduler``), and
stops it when the worker stops.

Every worker dyno runs one. Before enqueueing a tick, a scheduler claims it
in Redis (SET NX on a key naming the job and the tick), so with several
worker dynos each tick is enqueued once, by whichever claims it first.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing import get_context

from croniter import croniter
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.cron import CronJob, CronScheduler
from rq.exceptions import StopRequested

from jobs.core.connection import connect_redis, get_queue
from jobs.core.enqueue_policy import enqueue
from jobs.core.settings import Settings
from jobs.schedule import PeriodicJob, periodic_jobs

log = logging.getLogger(__name__)

# A claim outlives its tick by at least this, and by two periods: a scheduler
# that fell behind (Redis away for a while) must still find the tick taken
# when it catches up, not enqueue it a second time.
SHORTEST_CLAIM_SECONDS = 60 * 60
# Seconds between tries while Redis does not answer.
REDIS_RETRY_PAUSE = 5
# Seconds the worker waits for the scheduler to stop on its way out.
STOP_TIMEOUT = 10


def claim_key(name: str, tick: datetime) -> str:
    return f"fibtastic:cron:{name}:{int(tick.timestamp())}"


class ClaimingCronScheduler(CronScheduler):
    """RQ's CronScheduler, enqueueing each tick once across all worker dynos,
    through the project's enqueue policy (retries, TTLs, failure callback).
    RQ's own ``enqueue_jobs`` calls ``CronJob.enqueue``, which uses RQ's
    defaults (no retries, RQ's serializer) and claims nothing."""

    def __init__(self, connection: Redis, settings: Settings) -> None:
        super().__init__(connection=connection, logging_level=settings.log_level)
        self.settings = settings
        self.worker_pid = os.getppid()

    def enqueue_jobs(self) -> list[CronJob]:
        enqueue_time = datetime.now(UTC)
        due = [cron_job for cron_job in self.get_jobs() if cron_job.should_run()]
        for cron_job in due:
            # A cron job's next_enqueue_time is the tick that fell due: the
            # same on every dyno, so it names what is claimed.
            tick = cron_job.next_enqueue_time
            if self.claim(cron_job, tick):
                enqueue(
                    get_queue(self.connection, self.settings),
                    self.settings,
                    cron_job.func,
                    *cron_job.args,
                    description=f"{cron_job.name} (periodic, due {tick:%Y-%m-%dT%H:%M:%SZ})",
                    meta={"periodic_job": cron_job.name, "tick": tick.isoformat()},
                )
            else:
                log.debug("periodic job already enqueued by another worker name=%s tick=%s", cron_job.name, tick.isoformat())
            cron_job.set_enqueue_time(enqueue_time)
        return due

    def claim(self, cron_job: CronJob, tick: datetime) -> bool:
        period = croniter(cron_job.cron, tick).get_next(float) - tick.timestamp()
        key = claim_key(cron_job.name, tick)
        if self.connection.set(key, self.name, nx=True, ex=max(SHORTEST_CLAIM_SECONDS, int(2 * period))):
            return True
        # Ours already: an earlier try claimed it, then lost Redis before it enqueued.
        return self.connection.get(key) == self.name.encode()

    def heartbeat(self) -> None:
        # The worker is gone without stopping us (SIGKILLed on its own):
        # stop too, rather than schedule jobs for a dyno with no worker.
        if os.getppid() != self.worker_pid:
            raise StopRequested()
        super().heartbeat()


def run_scheduler(settings: Settings, jobs: list[PeriodicJob]) -> None:
    """The child process: RQ's scheduler loop, started again after Redis failed."""
    scheduler = ClaimingCronScheduler(connect_redis(settings.redis_url), settings)
    for job in jobs:
        scheduler.register(job.function, settings.queue_name, args=job.args, cron=job.cron, name=job.name)
    try:
        while True:
            try:
                # Returns when SIGTERM or SIGINT asked it to stop (its own handlers).
                scheduler.start()
                return
            except (RedisConnectionError, RedisTimeoutError) as error:
                log.warning("periodic jobs wait for redis: next try in %d s (%s)", REDIS_RETRY_PAUSE, error)
                time.sleep(REDIS_RETRY_PAUSE)
    except StopRequested:
        # Asked to stop outside the loop start() guards: during the pause
        # above, or a second signal (Heroku's and the worker's) while the
        # first was being handled.
        pass


@contextmanager
def periodic_jobs_scheduler(settings: Settings, enabled: bool = True) -> Iterator[None]:
    """Run the periodic jobs' scheduler in a child process while the worker runs."""
    jobs = periodic_jobs(settings) if enabled else []
    if not jobs:
        yield
        return
    log.info("periodic jobs: %s", ", ".join(f"{job.name} ({job.cron})" for job in jobs))
    # fork: the child has the code the worker already imported.
    process = get_context("fork").Process(target=run_scheduler, args=(settings, jobs), name="periodic jobs")
    process.start()
    try:
        yield
    finally:
        # On Heroku the scheduler has its own SIGTERM and is usually gone by now.
        if process.is_alive():
            process.terminate()
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            log.warning("periodic jobs' scheduler did not stop in %d s; killing it", STOP_TIMEOUT)
            process.kill()
            process.join()
