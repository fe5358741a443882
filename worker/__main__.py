"""Runs RQ's HerokuWorker on the project's queue.

Why HerokuWorker: on every deploy and daily restart Heroku sends SIGTERM and,
30 s later, SIGKILL (https://devcenter.heroku.com/articles/dynos#shutdown).
RQ's plain Worker waits for the running job, which SIGKILL may then cut off
without a trace; HerokuWorker makes the job raise at once so it is recorded
as failed and retried from its ``Retry``
(https://python-rq.org/patterns/#heroku).
"""

from __future__ import annotations

import argparse
import logging
import sys

from rq.job import Job
from rq.worker import BaseWorker, HerokuWorker

from jobs.connection import SERIALIZER, connect_redis, get_queue
from jobs.logging_setup import configure_logging
from jobs.monitoring import init_sentry
from jobs.settings import ConfigurationError, Settings, load_settings
from jobs.tasks import worker_mailer
from worker.monitoring import JobContextMixin, report_abandoned_job, report_killed_work_horse

log = logging.getLogger("worker")


class FibTasticWorker(JobContextMixin, HerokuWorker):
    # Seconds between SIGTERM and the job being interrupted; well inside
    # Heroku's 30 s, leaving time for RQ to record the failure and retry.
    imminent_shutdown_delay = 5

    def handle_work_horse_killed(self, job: Job, retpid, ret_val, rusage) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        report_killed_work_horse(job, ret_val)


def build_worker(settings: Settings, worker_class: type[BaseWorker] = FibTasticWorker, name: str | None = None) -> BaseWorker:
    connection = connect_redis(settings.redis_url)
    worker = worker_class(
        [get_queue(connection, settings)],
        name=name,
        connection=connection,
        serializer=SERIALIZER,
        # A job whose worker was SIGKILLed stays "started" until its heartbeat
        # (job_monitoring_interval + 60 s) expires; maintenance, every
        # maintenance_interval seconds, then retries it. With 10 s and 30 s a
        # killed job runs again within about 100 s, not RQ's default 10 min.
        job_monitoring_interval=settings.worker_job_monitoring_interval,
        maintenance_interval=settings.worker_maintenance_interval,
    )
    # Maintenance passes these to StartedJobRegistry.cleanup for abandoned jobs.
    worker.push_exc_handler(report_abandoned_job)
    return worker


def run_pool(settings: Settings, burst: bool) -> int:
    """WORKER_CONCURRENCY processes, each running jobs in process (worker/pool.py)."""
    from worker.pool import FibTasticWorkerPool, InProcessHerokuWorker

    connection = connect_redis(settings.redis_url)
    pool = FibTasticWorkerPool(
        lambda name: build_worker(settings, InProcessHerokuWorker, name=name),
        settings.worker_concurrency,
        queues=[get_queue(connection, settings)],
        connection=connection,
        serializer=SERIALIZER,
    )
    log.info(
        "worker pool starting queue=%s mail=%s concurrency=%d", settings.queue_name, settings.mail_backend, settings.worker_concurrency
    )
    pool.start(burst=burst, logging_level=settings.log_level)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description="Run FibTastic's background worker.")
    parser.add_argument("--burst", action="store_true", help="work until the queue is empty, then exit")
    options = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        if settings.on_heroku:
            settings.check_for_production()
        # Fail at start, not at the first email, on a malformed SMTP_URL.
        worker_mailer()
    except (ConfigurationError, ValueError) as error:
        log.error("%s", error)
        return 2
    from sentry_sdk.integrations.rq import RqIntegration

    init_sentry(settings, [RqIntegration()])
    if settings.worker_concurrency > 1:
        return run_pool(settings, burst=options.burst)
    worker = build_worker(settings)
    log.info("worker starting queue=%s mail=%s", settings.queue_name, settings.mail_backend)
    # with_scheduler: retries wait in RQ's ScheduledJobRegistry and need the
    # scheduler to move them back onto the queue when their time comes.
    worker.work(burst=options.burst, with_scheduler=True, logging_level=settings.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
