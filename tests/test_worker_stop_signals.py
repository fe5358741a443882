"""Stop signals in the moments a worker's processes have no handlers of RQ's yet (worker/stop_signals.py).

Each test sends the signal into one such window on purpose, so it always lands there: a pool worker just
forked (the pool's SIGINT); the main process after registering its worker and before ``work()`` installs
RQ's handlers, or after forking the pool's workers and before the pool installs its handlers (SIGTERM); the
whole dyno as a scheduler process is forked (Heroku's SIGTERM to every process). And HerokuWorker's SIGRTMIN
for a work-horse that has not yet left the worker's process group, sent to that group."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from rq import Worker
from rq.cron import CronScheduler
from rq.job import JobStatus
from rq.registry import FinishedJobRegistry

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import Process, environment_for, python_process, wait_for
from tests.support.worker_log import traceback_reports

pytestmark = pytest.mark.slow

# `python -m worker` with a signal sent into one window (argv[1]: the signal, argv[2]: where). A hook
# registered before the worker's own runs first in a new child, while stop signals are still blocked there.
WORKER_WITH_A_SIGNAL_IN_A_WINDOW = """
import os, signal, sys
import worker.__main__, worker.pool

signum, where = signal.Signals[sys.argv[1]], sys.argv[2]
main_pid, sent = os.getpid(), []

def send(pid):
    if not sent:
        sent.append(signum)
        os.kill(pid, signum)

def after(method, send_to):
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        send(send_to())
        return result
    return wrapper

if where == "pool-worker-forked":  # each process the main process forks, to itself
    os.register_at_fork(after_in_child=lambda: os.getppid() == main_pid and send(os.getpid()))
elif where == "dyno-at-first-fork":  # from the first child, to every process of the dyno
    os.register_at_fork(after_in_child=lambda: os.getppid() == main_pid and send(-os.getpgid(0)))
elif where == "worker-registered":  # inside work(), before RQ's handlers
    worker.__main__.FibTasticWorker.register_birth = after(worker.__main__.FibTasticWorker.register_birth, os.getpid)
elif where == "pool-workers-forked":  # inside the pool's start(), before its handlers
    worker.pool.FibTasticWorkerPool.start_workers = after(worker.pool.FibTasticWorkerPool.start_workers, os.getpid)
sys.exit(worker.__main__.main(sys.argv[3:]))
"""


def run_worker_signalled(settings, tmp_path, signum, where, *args, **env):
    command = [sys.executable, "-c", WORKER_WITH_A_SIGNAL_IN_A_WINDOW, signum.name, where, *args]
    return Process(command, environment_for(settings, **env), tmp_path / "worker.log")


def test_a_pool_worker_stopped_as_it_is_forked_stops_quietly_and_takes_no_job(settings, redis_conn, queue, tmp_path):
    # What the pool sends its workers to stop them, arriving before anything of the worker runs.
    jobs = [enqueue_fibonacci_email(queue, settings, f"person{n}@example.com", 3) for n in range(4)]
    worker = run_worker_signalled(settings, tmp_path, signal.SIGINT, "pool-worker-forked", "--burst", WORKER_CONCURRENCY="2")
    try:
        assert worker.wait(30) == 0, worker.output()
    finally:
        worker.stop()
    assert "stopping while waiting for redis (SIGINT)" in worker.output()
    assert traceback_reports(worker.output()) == 0, worker.output()
    assert [job.get_status() for job in jobs] == ["queued"] * 4  # nothing taken, nothing lost
    assert Worker.all(connection=redis_conn) == []


@pytest.mark.parametrize(("where", "concurrency"), [("worker-registered", "1"), ("pool-workers-forked", "2"), ("dyno-at-first-fork", "2")])
def test_a_stop_before_rq_installs_its_handlers_stops_every_process_cleanly(settings_with, redis_conn, tmp_path, where, concurrency):
    settings = settings_with(queue_report_schedule="* * * * *")  # both scheduler processes
    worker = run_worker_signalled(settings, tmp_path, signal.SIGTERM, where, WORKER_CONCURRENCY=concurrency)
    try:
        assert worker.wait(30) == 0, worker.output()
    finally:
        worker.stop()
    assert traceback_reports(worker.output()) == 0, worker.output()
    assert Worker.all(connection=redis_conn) == []  # none left registered
    assert CronScheduler.all(redis_conn) == []


def test_the_worker_and_its_scheduler_outlive_a_work_horse_signal_sent_to_their_group(settings, redis_conn, queue, tmp_path):
    # The Procfile's worker with a periodic job every second, so work-horses are forked all the time.
    environment = environment_for(settings, QUEUE_REPORT_SCHEDULE="* * * * * *", WORKER_CONCURRENCY="1")
    worker = python_process(["-m", "worker"], environment, tmp_path / "worker.log")
    try:
        wait_for(lambda: CronScheduler.all(redis_conn), timeout=30, what="the periodic jobs' scheduler")
        finished = FinishedJobRegistry(queue=queue)
        wait_for(lambda: finished.get_job_ids(), timeout=30, what="a finished queue report")
        # What RQ's kill_horse sends when the horse has not yet called setpgrp: the worker's own group.
        os.killpg(os.getpgid(worker.pid), signal.SIGRTMIN)
        seen = len(finished.get_job_ids())
        wait_for(lambda: len(finished.get_job_ids()) > seen, timeout=30, what="a queue report finished after the signal")
        assert queue.fetch_job(finished.get_job_ids()[-1]).get_status() == JobStatus.FINISHED
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(25) == 0, worker.output()
    finally:
        worker.stop()
    assert CronScheduler.all(redis_conn) == []  # the scheduler stopped cleanly too
    assert traceback_reports(worker.output()) == 0, worker.output()
