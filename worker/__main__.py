"""Runs RQ's HerokuWorker on the project's queue (or, with WORKER_CONCURRENCY > 1, a pool: worker/pool.py).

Heroku sends SIGTERM, then SIGKILL 30 s later (https://devcenter.heroku.com/articles/dynos#shutdown);
HerokuWorker makes the running job raise at once, so it is recorded as failed and retried from its
``Retry`` instead of cut off without a trace (https://python-rq.org/patterns/#heroku).
"""

import argparse
import logging
import sys
from contextlib import ExitStack

from redis import RedisError
from rq.executions import Execution
from rq.job import Job
from rq.worker import BaseWorker, HerokuWorker

from jobs.core.at_most_once import release_abandoned_claim, release_dead_run
from jobs.core.connection import connect_redis, get_queue, is_outage, redis_client_url, redis_problem
from jobs.core.error_reporting import init_sentry
from jobs.core.logging_setup import configure_logging
from jobs.core.redis_memory import warn_if_redis_evicts
from jobs.core.settings import ConfigurationError, Settings, load_settings
from jobs.core.worker_resources import worker_mailer
from jobs.schedule import periodic_jobs
from worker import stop_signals
from worker.children import child_process
from worker.cron import periodic_jobs_scheduler
from worker.job_reporting import JobContextMixin, report_abandoned_job, report_killed_work_horse
from worker.pool import IMMINENT_SHUTDOWN_DELAY
from worker.redis_waits import WaitsOutAFullRedis, wait_for_a_connection, wait_for_redis
from worker.retries import run_retry_scheduler

log = logging.getLogger("worker")

# Left free for an operator's `heroku redis:cli`.
SPARE_CONNECTIONS = 1


class FibTasticWorker(stop_signals.StopSignalsMixin, WaitsOutAFullRedis, JobContextMixin, HerokuWorker):
    imminent_shutdown_delay = IMMINENT_SHUTDOWN_DELAY

    def main_work_horse(self, job: Job, queue) -> None:
        # The work-horse's first command opens its own connection; refused (the plan's connection limit), the
        # horse would exit and RQ count a failed attempt. Wait for one first, as a starting worker does.
        wait_for_a_connection(self.connection)
        super().main_work_horse(job, queue)

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        # RQ gives up on the job and quits when Redis does not answer here, leaving the work-horse
        # unwatched while run() starts a new worker beside it. Keep watching; the next renewal catches up.
        try:
            super().maintain_heartbeats(job, execution)
        except RedisError as error:
            if not is_outage(error):
                raise
            log.warning("redis unreachable, job heartbeat not renewed: %s", redis_problem(error))

    def handle_work_horse_killed(self, job: Job, retpid, ret_val, rusage) -> None:
        # Before RQ retries it: the dead run's @at_most_once claim must not hold up the retry.
        release_dead_run(job, self.name, retpid)
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        report_killed_work_horse(job, ret_val)


def build_worker(settings: Settings, worker_class: type[BaseWorker] = FibTasticWorker, name: str | None = None) -> BaseWorker:
    connection = connect_redis(redis_client_url(settings))
    worker = worker_class(
        [get_queue(connection, settings)],
        name=name,
        connection=connection,
        # A SIGKILLed worker's job stays "started" until its heartbeat (job_monitoring_interval
        # + RQ's fixed 60 s) expires; the next maintenance then retries it.
        job_monitoring_interval=settings.worker_job_monitoring_interval,
        maintenance_interval=settings.worker_maintenance_interval,
        # An idle worker waits worker_ttl - 15 s for a job, running no maintenance meanwhile:
        # keep that wait to the maintenance interval (docs/guarantees.md has the bound).
        worker_ttl=settings.worker_maintenance_interval + 15,
    )
    # Called by maintenance (StartedJobRegistry.cleanup) for abandoned jobs, before it retries them.
    worker.push_exc_handler(release_abandoned_claim)
    worker.push_exc_handler(report_abandoned_job)
    return worker


def run(settings: Settings, burst: bool, worker_class: type[BaseWorker] = FibTasticWorker, name: str | None = None) -> None:
    """Run a worker; if it quits because Redis went away (or refused it, or is full), start another here once
    Redis takes writes again. The dyno's main process, or one process of the pool."""
    first_try_after = 0.0
    while wait_for_redis(settings, first_try_after):
        worker = None
        try:
            worker = build_worker(settings, worker_class, name)
            # The retries' scheduler runs beside the workers (worker/retries.py); with --burst, RQ's one pass.
            worker.work(burst=burst, with_scheduler=burst, logging_level=settings.log_level)
        except RedisError as error:
            # RQ retries a lost connection while it waits for a job, but quits when its bookkeeping fails.
            if not is_outage(error):
                raise
            log.warning("worker lost redis: %s", redis_problem(error))
        if burst or (worker is not None and worker.stop_signal_received):
            return
        log.warning("worker stopped without being asked to; starting again once redis takes writes")
        first_try_after, name = 1.0, None  # never a tight loop, whatever made it stop; a new name, as the old one may linger


def workers_that_fit(settings: Settings, schedulers: int) -> int:
    """WORKER_CONCURRENCY, or as many pool workers as Redis has connections free for, if fewer (then saying so).
    Asked before this dyno's ``schedulers`` connect, so what Redis counts in use is other dynos' and this check's."""
    with connect_redis(redis_client_url(settings), socket_timeout=5) as connection:
        info = connection.info("clients")
    limit = info.get("maxclients")  # in INFO since Redis 7.0
    if not limit:
        return settings.worker_concurrency
    in_use = info["connected_clients"] - 1  # not this check's own, closed now
    free = limit - in_use - schedulers - SPARE_CONNECTIONS
    if settings.worker_concurrency <= free:
        return settings.worker_concurrency
    fit = max(1, free)
    log.warning(
        "WORKER_CONCURRENCY=%d does not fit this Redis: it allows %d connections, %d are in use, and this dyno's %d "
        "schedulers and %d kept free for `heroku redis:cli` leave %d for workers; starting %d. Lower WORKER_CONCURRENCY "
        "to %d or choose a Redis plan with more connections (docs/redis-plans.md)",
        *(settings.worker_concurrency, limit, in_use, schedulers, SPARE_CONNECTIONS, max(free, 0), fit, fit),
    )
    return fit


def run_pool(settings: Settings, size: int, burst: bool) -> None:
    from worker.pool import FibTasticWorkerPool, InProcessHerokuWorker

    def work(name: str) -> None:
        # In each pool process; also one replacing a process that died.
        run(settings, burst, InProcessHerokuWorker, name)

    stop_signals.children_latch(True)  # the pool's workers: a stop before RQ's handlers must not be lost
    # RQ's pool takes a connection, but only the workers use Redis: no connection is opened for it.
    pool = FibTasticWorkerPool(work, size, queues=[settings.queue_name], connection=connect_redis(redis_client_url(settings)))
    pool.start(burst=burst, logging_level=settings.log_level)


def main(argv: list[str] | None = None) -> int:
    stop_signals.install_in_main_process()  # before anything is forked
    parser = argparse.ArgumentParser(prog="python -m worker", description="Run FibTastic's background worker.")
    parser.add_argument("--burst", action="store_true", help="work until the queue is empty, then exit")
    options = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        configure_logging()  # one plain line, no traceback
        log.error("%s", error)
        return 2
    configure_logging(settings.log_level)
    try:
        if settings.on_heroku:
            settings.check_for_production()
        worker_mailer()  # fail at start, not at the first email, on a malformed SMTP_URL
    except (ConfigurationError, ValueError) as error:
        log.error("%s", error)
        return 2
    from sentry_sdk.integrations.rq import RqIntegration

    init_sentry(settings, [RqIntegration()])
    # Not with --burst, which works off the queue (RQ's scheduler in one pass) and exits.
    periodic = [] if options.burst else periodic_jobs(settings)
    schedulers = 0 if options.burst else 1 + bool(periodic)
    log.info("worker starting queue=%s mail=%s concurrency=%d", settings.queue_name, settings.mail_backend, settings.worker_concurrency)
    # Once here, before anything else connects, so a dyno booting while Redis is away logs one line per attempt.
    if not wait_for_redis(settings):
        return 0
    with connect_redis(redis_client_url(settings), socket_timeout=5) as connection:
        warn_if_redis_evicts(connection, log)
    try:
        size = workers_that_fit(settings, schedulers) if settings.worker_concurrency > 1 else 1
    except RedisError as error:  # gone again already: each worker waits for it
        if not is_outage(error):
            raise
        log.warning("could not count redis connections: %s", redis_problem(error))
        size = settings.worker_concurrency
    with ExitStack() as children:
        if schedulers:
            children.enter_context(child_process("retries' scheduler", run_retry_scheduler, settings))
        if periodic:
            children.enter_context(periodic_jobs_scheduler(settings, periodic))
        if settings.worker_concurrency > 1:
            run_pool(settings, size, burst=options.burst)  # the pool replaces a worker process that dies
        else:
            run(settings, burst=options.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
