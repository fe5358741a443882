"""WORKER_CONCURRENCY > 1: several worker processes, each running jobs in process.

Sending an email is almost all waiting on the provider (SendGrid answers in
about 150 ms), so a dyno sends as many emails per second as it has sends in
flight. RQ's HerokuWorker runs one job at a time and forks a work-horse for
each, so each send in flight costs two Python processes and two Redis
connections. Here the parent loads the code once, then forks N workers (RQ's
WorkerPool supervises them and replaces any that die); each worker runs its
jobs itself, without a fork per job, over one Redis connection, so each send
in flight costs one process and one connection (docs/redis-plans.md counts
them; docs/benchmarks.md has the numbers and the trade-offs: no work-horse
isolation, so a job that crashes the interpreter takes its worker process
down, and the pool starts a new one).

Heroku's SIGTERM keeps the meaning it has with HerokuWorker: a job still
running ``imminent_shutdown_delay`` seconds later is interrupted with RQ's
ShutDownImminentException, recorded as failed and retried from its Retry.
A SIGKILLed worker's job is found abandoned by RQ's maintenance and retried,
as with HerokuWorker.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from multiprocessing import get_context

from rq.exceptions import ShutDownImminentException
from rq.worker import SimpleWorker
from rq.worker_pool import WorkerPool

from worker import stop_signals
from worker.job_reporting import JobContextMixin
from worker.preload import load_before_fork
from worker.redis_waits import WaitsOutAFullRedis

# Seconds between SIGTERM and the running job being interrupted, for both
# kinds of worker: well inside the 30 s Heroku waits before SIGKILL, leaving
# time for RQ to record the failure and retry.
IMMINENT_SHUTDOWN_DELAY = 5


class InProcessHerokuWorker(stop_signals.StopSignalsMixin, WaitsOutAFullRedis, JobContextMixin, SimpleWorker):
    """SimpleWorker (no fork per job) with HerokuWorker's SIGTERM behaviour, and one Redis connection."""

    imminent_shutdown_delay = IMMINENT_SHUTDOWN_DELAY
    performing_job = False

    def work(self, *args, **kwargs) -> bool:
        # RQ's work() installs its own SIGTERM and SIGINT handlers and leaves this one alone.
        signal.signal(signal.SIGRTMIN, self.interrupt_job)
        return super().work(*args, **kwargs)

    def subscribe(self) -> None:
        """No pubsub: it holds a second Redis connection per worker, for RQ's commands to one worker
        (``rq.command.send_stop_job_command``, ``send_shutdown_command``), which nothing here sends.
        HerokuWorker (WORKER_CONCURRENCY=1) keeps them."""

    def perform_job(self, job, queue, execution) -> bool:
        self.performing_job = True
        try:
            return super().perform_job(job, queue, execution)
        finally:
            self.performing_job = False

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        if self.performing_job:
            self.log.warning("imminent shutdown, interrupting the running job in %d seconds", self.imminent_shutdown_delay)
            # A timer thread, not signal.alarm: the job's own timeout already
            # uses SIGALRM in this process (RQ's UnixSignalDeathPenalty).
            timer = threading.Timer(self.imminent_shutdown_delay, os.kill, (os.getpid(), signal.SIGRTMIN))
            timer.daemon = True
            timer.start()

    def interrupt_job(self, signum, frame) -> None:
        """SIGRTMIN's handler, installed by work()."""
        # The job may have finished while the timer ran; then the worker is
        # already on its way out and nothing needs interrupting.
        if self.performing_job:
            self.log.warning("raising ShutDownImminentException to interrupt the job")
            raise ShutDownImminentException("shut down imminent (signal: SIGRTMIN)", {})


class FibTasticWorkerPool(WorkerPool):
    """RQ's WorkerPool, each of whose processes runs ``work(name)`` (this project's worker, settings and
    outage handling: worker/__main__.py ``run``) instead of RQ's own worker."""

    def __init__(self, work: Callable[[str], None], num_workers: int, **kwargs) -> None:
        self.work = work
        super().__init__(num_workers=num_workers, **kwargs)

    def start(self, burst: bool = False, logging_level: str = "INFO") -> None:
        load_before_fork()  # shared by every worker forked from here, replacements too
        super().start(burst=burst, logging_level=logging_level)

    def check_workers(self, respawn: bool = True) -> None:
        # start() calls this first in its loop, right after installing the pool's handlers: a stop latched
        # before them (worker/stop_signals.py) is acted on now, as they would have.
        if stop_signals.take_latched_stop() is not None:
            self.request_stop()
        super().check_workers(respawn=respawn)

    def get_worker_process(self, name: str, burst: bool, _sleep: float = 0, logging_level: str = "INFO"):
        # fork: the child inherits the code the parent already imported. From its fork it latches stop
        # signals (worker/stop_signals.py) until its worker's work() hands them to RQ.
        return get_context("fork").Process(target=self.work, args=(name,), name=f"Worker {name} (WorkerPool {self.name})")
