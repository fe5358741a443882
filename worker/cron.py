"""The periodic jobs' scheduler: RQ's CronScheduler (https://python-rq.org/docs/cron/) in a child of every
worker (worker/children.py), not an ``rq cron`` process type that needs a dyno and, if nobody starts it,
silently never runs. Each tick is claimed in Redis (SET NX) before it is enqueued, so it is enqueued once."""

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from croniter import croniter
from redis import Redis
from rq.cron import CronJob, CronScheduler
from rq.exceptions import StopRequested

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.core.enqueue_policy import enqueue
from jobs.core.settings import Settings
from jobs.schedule import PeriodicJob
from worker.children import child_process, keep_running
from worker.stop_signals import STOP_SIGNALS

log = logging.getLogger(__name__)

# A claim outlives its tick by this and two periods, so a scheduler catching up after Redis was away finds it taken.
SHORTEST_CLAIM_SECONDS = 60 * 60


def claim_key(name: str, tick: datetime) -> str:
    return f"fibtastic:cron:{name}:{int(tick.timestamp())}"


class ClaimingCronScheduler(CronScheduler):
    """Enqueues each tick once across all dynos, through the project's enqueue policy (RQ's own
    ``CronJob.enqueue`` claims nothing and has no retries)."""

    stop_requested = False

    def __init__(self, connection: Redis, settings: Settings) -> None:
        super().__init__(connection=connection, logging_level=settings.log_level)
        self.settings = settings
        self.worker_pid = os.getppid()

    def register_birth(self) -> None:
        # start() calls this right after installing RQ's handlers, which raise StopRequested wherever the signal
        # lands: inside a log call, logging's error handling swallowed it ("--- Logging error ---") and the stop was
        # lost, until the worker killed this process 10 s later (seen under load in tests/test_periodic_jobs.py).
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.stop_at_a_safe_point)
        super().register_birth()

    def stop_at_a_safe_point(self, signum: int, frame) -> None:
        self.stop_requested = True
        # In start()'s own loop (asleep until the next tick, say), its try ends it at once; anywhere deeper
        # (a log line, a Redis call) heartbeat() does, at the end of this pass.
        if frame is not None and frame.f_code is CronScheduler.start.__code__:
            raise StopRequested()

    def enqueue_jobs(self) -> list[CronJob]:
        enqueue_time = datetime.now(UTC)
        due = [cron_job for cron_job in self.get_jobs() if cron_job.should_run()]
        for cron_job in due:
            # The tick that fell due: the same on every dyno, so it names what is claimed.
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
        # Asked to stop; or the worker is gone without stopping us (SIGKILLed): do not schedule for a dyno with no worker.
        if self.stop_requested or os.getppid() != self.worker_pid:
            raise StopRequested()
        super().heartbeat()


def run_scheduler(settings: Settings, jobs: list[PeriodicJob]) -> None:
    """The child process: RQ's scheduler loop, started again after Redis failed."""
    scheduler = ClaimingCronScheduler(connect_redis(redis_client_url(settings)), settings)
    for job in jobs:
        scheduler.register(job.function, settings.queue_name, args=job.args, cron=job.cron, name=job.name)
    # start() returns when SIGTERM or SIGINT asked it to stop (its own handlers).
    keep_running(scheduler.start, "periodic jobs", stopped=lambda: scheduler.stop_requested)


@contextmanager
def periodic_jobs_scheduler(settings: Settings, jobs: list[PeriodicJob]) -> Iterator[None]:
    log.info("periodic jobs: %s", ", ".join(f"{job.name} ({job.cron})" for job in jobs))
    with child_process("periodic jobs' scheduler", run_scheduler, settings, jobs):
        yield
