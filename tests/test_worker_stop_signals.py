"""Stop signals in the moments a worker's processes have no handlers of RQ's yet (worker/stop_signals.py).

Each test sends the signal into one such window on purpose, from an at-fork hook registered before the
worker's own, so it always lands there: a pool worker just forked (the pool's SIGINT), the main process
between its start and ``work()``'s handlers (SIGTERM, as the pool's main process between forking its
workers and installing its handlers), RQ's scheduler child before it installs its own; and HerokuWorker's
SIGRTMIN for a work-horse that has not yet left the worker's process group, sent to that group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from rq import Worker
from rq.cron import CronScheduler
from rq.job import JobStatus
from rq.registry import FinishedJobRegistry

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import PROJECT_ROOT, Process, environment_for, python_process, wait_for
from tests.support.worker_log import traceback_reports

pytestmark = pytest.mark.slow

# `python -m worker` with a hook that sends `signum` into a window: at_fork="child" in each process the
# main process forks, first thing after the fork; at_fork="parent" to the main process itself, as its
# first fork returns (RQ's scheduler inside work(), or the pool's first worker).
WORKER_WITH_A_SIGNAL_AT_FORK = """
import os, signal, sys
import worker.__main__

signum, at_fork = signal.Signals[sys.argv[1]], sys.argv[2]
main_pid, sent = os.getpid(), []

def send(pid):
    if not sent:
        sent.append(signum)
        os.kill(pid, signum)

if at_fork == "child":
    os.register_at_fork(after_in_child=lambda: os.getppid() == main_pid and send(os.getpid()))
else:
    os.register_at_fork(after_in_parent=lambda: send(main_pid))
sys.exit(worker.__main__.main(sys.argv[3:]))
"""


def run_worker_signalled_at_fork(settings, tmp_path, signum, at_fork, *args, **env):
    command = [sys.executable, "-c", WORKER_WITH_A_SIGNAL_AT_FORK, signum.name, at_fork, *args]
    return Process(command, environment_for(settings, **env), tmp_path / "worker.log")


def test_a_pool_worker_stopped_as_it_is_forked_stops_quietly_and_takes_no_job(settings, redis_conn, queue, tmp_path):
    # What the pool sends its workers to stop them, arriving before anything of the worker runs.
    jobs = [enqueue_fibonacci_email(queue, settings, f"person{n}@example.com", 3) for n in range(4)]
    worker = run_worker_signalled_at_fork(settings, tmp_path, signal.SIGINT, "child", "--burst", WORKER_CONCURRENCY="2")
    try:
        assert worker.wait(30) == 0, worker.output()
    finally:
        worker.stop()
    assert "stopping while waiting for redis (SIGINT)" in worker.output()
    assert traceback_reports(worker.output()) == 0, worker.output()
    assert [job.get_status() for job in jobs] == ["queued"] * 4  # nothing taken, nothing lost
    assert Worker.all(connection=redis_conn) == []


@pytest.mark.parametrize("concurrency", ["1", "2"], ids=["worker", "pool"])
def test_the_main_process_stopped_before_rq_installs_its_handlers_stops_cleanly(settings, redis_conn, tmp_path, concurrency):
    # 1: between the worker's registration and work() installing its handlers (its first fork is RQ's
    # scheduler's, in between). 2: between the pool forking its first worker and installing its handlers.
    worker = run_worker_signalled_at_fork(settings, tmp_path, signal.SIGTERM, "parent", WORKER_CONCURRENCY=concurrency)
    try:
        assert worker.wait(30) == 0, worker.output()
    finally:
        worker.stop()
    assert traceback_reports(worker.output()) == 0, worker.output()
    assert Worker.all(connection=redis_conn) == []  # each said goodbye to Redis
    assert "warm shut down requested" in worker.output().lower() or "shutting down" in worker.output(), worker.output()


CHILD_STOPPED_AT_FORK = """
import json, os, signal, sys
from redis import Redis
from rq import Queue
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker
from worker import stop_signals

redis = Redis.from_url(sys.argv[1])
worker = SimpleWorker([Queue("child-signals", connection=redis)], connection=redis)
if sys.argv[2] == "reset":
    stop_signals.install_in_main_process()
# As work() leaves the worker process: its handlers, which a forked child inherits.
signal.signal(signal.SIGTERM, worker.request_stop)
signal.signal(signal.SIGINT, worker.request_stop)
# Registered after the worker's hook: the stop arrives before the child's own handlers.
os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGTERM))
scheduler = RQScheduler(["child-signals"], connection=redis)
process = scheduler.start()
process.join(3)
alive = process.is_alive()
if alive:
    process.kill()
    process.join()
print(json.dumps({"alive": alive, "exitcode": process.exitcode}))
"""


def run_scheduler_stopped_at_fork(redis_url: str, mode: str) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD_STOPPED_AT_FORK, redis_url, mode],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_scheduler_stopped_before_it_installs_its_handlers_ends_quietly(redis_url):
    result, stderr = run_scheduler_stopped_at_fork(redis_url, "reset")
    assert result == {"alive": False, "exitcode": -15}  # ended by SIGTERM's default action
    assert "Traceback" not in stderr


def test_without_the_reset_rq_scheduler_runs_the_workers_handler_and_loses_the_stop(redis_url):
    """Why worker/stop_signals.py sets RQ's scheduler child to stop at once. The stop is sent at fork time, so this fails only once RQ's
    scheduler child no longer starts with the worker's handlers (started another way than fork, or
    reset at fork); the reset can then go. A reset later, in the child's own code, leaves the window."""
    result, stderr = run_scheduler_stopped_at_fork(redis_url, "inherit")
    assert result["alive"], "the scheduler stopped: RQ no longer runs the worker's handler in its child"
    assert "StopRequested" in stderr


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
