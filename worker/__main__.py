"""Runs RQ's HerokuWorker on the project's queue.

Heroku sends SIGTERM, then SIGKILL 30 s later (https://devcenter.heroku.com/articles/dynos#shutdown);
HerokuWorker makes the running job raise at once, so it is recorded as failed and retried from its
``Retry`` instead of cut off without a trace (https://python-rq.org/patterns/#heroku).
"""

import argparse
import logging
import signal
import sys
import time

from rq.executions import Execution
from rq.job import Job
from rq.worker import BaseWorker, HerokuWorker

from jobs.core.at_most_once import release_abandoned_claim, release_dead_run
from jobs.core.connection import REDIS_DOWN, certificate_hint, connect_redis, get_queue, redis_client_url
from jobs.core.error_reporting import init_sentry
from jobs.core.logging_setup import configure_logging
from jobs.core.settings import ConfigurationError, Settings, load_settings
from jobs.core.worker_resources import worker_mailer
from worker.child_signals import ignore_the_work_horse_signal, reset_stop_signals_in_children
from worker.cron import periodic_jobs_scheduler
from worker.job_reporting import JobContextMixin, report_abandoned_job, report_killed_work_horse
from worker.pool import IMMINENT_SHUTDOWN_DELAY

log = logging.getLogger("worker")
# SIGTERM: Heroku on deploys and restarts; SIGINT: Ctrl-C, and what RQ's WorkerPool sends its workers.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class FibTasticWorker(JobContextMixin, HerokuWorker):
    imminent_shutdown_delay = IMMINENT_SHUTDOWN_DELAY
    # Tells a requested stop from RQ giving up on a lost Redis connection.
    stop_signal_received = False

    def request_stop(self, signum, frame):
        self.stop_signal_received = True
        super().request_stop(signum, frame)

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        # RQ gives up on the job and quits when Redis does not answer here, leaving the work-horse
        # unwatched while run() starts a new worker beside it. Keep watching; the next renewal catches up.
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_DOWN as error:
            log.warning("redis unreachable, job heartbeat not renewed: %s", error)

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
        # keep that wait to the maintenance interval (README "Guarantees" has the bound).
        worker_ttl=settings.worker_maintenance_interval + 15,
    )
    # Called by maintenance (StartedJobRegistry.cleanup) for abandoned jobs, before it retries them.
    worker.push_exc_handler(release_abandoned_claim)
    worker.push_exc_handler(report_abandoned_job)
    return worker


def run_pool(settings: Settings, burst: bool) -> None:
    from worker.pool import FibTasticWorkerPool, InProcessHerokuWorker

    log.info(
        "worker pool starting queue=%s mail=%s concurrency=%d", settings.queue_name, settings.mail_backend, settings.worker_concurrency
    )
    # Once here too, so a dyno booting while Redis is away logs one line per attempt, not one per process.
    if not wait_for_redis(settings):
        return

    def make_worker(name: str) -> BaseWorker | None:
        # Also in a process replacing one that lost Redis: RQ's Worker talks to Redis when built, and
        # without this wait the pool would start another every second, each with a traceback.
        return build_worker(settings, InProcessHerokuWorker, name=name) if wait_for_redis(settings) else None

    connection = connect_redis(redis_client_url(settings))
    pool = FibTasticWorkerPool(make_worker, settings.worker_concurrency, queues=[get_queue(connection, settings)], connection=connection)
    pool.start(burst=burst, logging_level=settings.log_level)


def wait_for_redis(settings: Settings, first_try_after: float = 0.0) -> bool:
    """Block until Redis answers (True) or SIGTERM/SIGINT asks to stop (False): a dyno restarted during a
    failover must not exit, or Heroku restarts it with growing cool-offs while the queue waits."""
    # Its own socket timeout: a server that never answers (a failover in progress) is a failed attempt.
    connection = connect_redis(redis_client_url(settings), socket_timeout=5)
    stop_requests: list[int] = []
    # The handler only records: raising from it could land anywhere, even where the old handlers go back.
    previous = {signum: signal.signal(signum, lambda signum, _frame: stop_requests.append(signum)) for signum in STOP_SIGNALS}
    delay, pause = first_try_after, 1.0
    try:
        while True:
            # Short steps: time.sleep resumes after a signal handler, and a stop should not wait 10 s.
            resume_at = time.monotonic() + delay
            while not stop_requests and time.monotonic() < resume_at:
                time.sleep(min(0.1, delay))
            if stop_requests:
                break
            try:
                connection.ping()
                break
            except REDIS_DOWN as error:
                log.warning("waiting for redis: next try in %g s (%s)%s", pause, error, certificate_hint(error))
            delay, pause = pause, min(pause * 2, 10.0)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # Checked after the handlers are back, so a signal that came just as Redis answered is not lost.
    if stop_requests:
        log.info("stopping while waiting for redis (%s)", signal.Signals(stop_requests[0]).name)
        return False
    return True


def run(settings: Settings, burst: bool) -> None:
    """Run the worker; if it quits because Redis went away, start it again here once Redis answers."""
    log.info("worker starting queue=%s mail=%s", settings.queue_name, settings.mail_backend)
    reset_stop_signals_in_children()  # for its work-horses and RQ's scheduler
    first_try_after = 0.0
    while wait_for_redis(settings, first_try_after):
        worker = build_worker(settings)
        try:
            # with_scheduler: retries wait in RQ's ScheduledJobRegistry until the scheduler requeues them.
            worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
        except REDIS_DOWN as error:
            # RQ retries a lost connection while it waits for a job, but quits when its bookkeeping fails.
            log.warning("worker lost redis: %s", error)
        if burst or worker.stop_signal_received:
            return
        log.warning("worker stopped without being asked to; starting again once redis answers")
        first_try_after = 1.0  # never a tight loop, whatever made it stop


def main(argv: list[str] | None = None) -> int:
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
    ignore_the_work_horse_signal()  # before the periodic jobs' scheduler and the pool are forked
    # Not with --burst, which works off the queue and exits.
    with periodic_jobs_scheduler(settings, enabled=not options.burst):
        if settings.worker_concurrency > 1:
            run_pool(settings, burst=options.burst)  # the pool replaces a worker process that dies
        else:
            run(settings, burst=options.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
