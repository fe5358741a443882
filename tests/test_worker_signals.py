"""Jobs survive the platform: SIGTERM (deploys, daily restarts) and SIGKILL
(out of memory) hit a real ``python -m worker`` in the middle of a job."""

from __future__ import annotations

import signal

import pytest
from rq.job import Job
from rq.registry import StartedJobRegistry

from jobs.core.at_most_once import is_done
from jobs.tasks import enqueue_fibonacci_email
from tests.support.mail_checks import assert_fibonacci_email
from tests.support.processes import environment_for, kill_tree, python_process, wait_for
from tests.support.slow_smtp import StallingSmtpSink

pytestmark = pytest.mark.slow


@pytest.fixture
def stalling_sink():
    sink = StallingSmtpSink().start()
    yield sink
    sink.stop()


def fetch(job_id, redis_conn) -> Job:
    return Job.fetch(job_id, connection=redis_conn)


def start_worker(settings, tmp_path, name, **env):
    return python_process(["-m", "worker"], environment_for(settings, **env), tmp_path / f"{name}.log")


def test_sigterm_mid_job_stops_it_cleanly_and_a_new_worker_sends_exactly_one_email(
    settings_with, stalling_sink, redis_conn, queue, tmp_path
):
    # MAIL_TIMEOUT well above the stall: only SIGTERM can end the first try.
    settings = settings_with(smtp_url=stalling_sink.url, retry_intervals=(1, 1), mail_timeout=60)
    stalling_sink.stall_seconds = 8  # longer than HerokuWorker's 5 s grace
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 12)

    first = start_worker(settings, tmp_path, "first")
    try:
        assert stalling_sink.stalled.wait(30), first.output()
        first.send_signal(signal.SIGTERM)
        assert first.wait(25) == 0, first.output()  # a warm shutdown, well inside Heroku's 30 s
    finally:
        first.stop()

    interrupted = fetch(job.id, redis_conn)
    assert "ShutDownImminentException" in first.output()
    assert interrupted.meta == {"error": "the worker was restarted while sending", "attempts": 1}
    assert interrupted.get_status() in ("scheduled", "queued")  # kept for its retry, not lost
    assert interrupted.retries_left == 1
    assert not is_done(redis_conn, job.id)
    # The interrupted conversation ends without a message: the stall finishes,
    # the client is gone, nothing is delivered.
    wait_for(lambda: stalling_sink.stalls_finished == 1, timeout=15, what="the stalled conversation to end")
    assert stalling_sink.messages == []

    stalling_sink.stall_seconds = 0
    second = start_worker(settings, tmp_path, "second")
    try:
        wait_for(lambda: fetch(job.id, redis_conn).get_status() == "finished", timeout=30, what="the retried job to finish")
    finally:
        second.stop()
    [received] = stalling_sink.messages
    assert_fibonacci_email(received, "ada@example.com", 12)
    assert fetch(job.id, redis_conn).return_value() == {"length": 12}


def test_sigkill_mid_job_is_found_abandoned_and_run_again(settings_with, stalling_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=stalling_sink.url, retry_intervals=(1, 1), mail_timeout=60)
    # Small intervals so the test takes about a minute; RQ adds a fixed 60 s
    # to the heartbeat, so a killed job counts as abandoned after 61 s here.
    intervals = {"WORKER_JOB_MONITORING_INTERVAL": "1", "WORKER_MAINTENANCE_INTERVAL": "2"}
    stalling_sink.stall_seconds = 600
    job = enqueue_fibonacci_email(queue, settings, "grace@example.com", 7)

    doomed = start_worker(settings, tmp_path, "doomed", **intervals)
    try:
        assert stalling_sink.stalled.wait(30), doomed.output()
        # kill -9 the worker, its work-horse and its scheduler: what Heroku
        # does to the whole dyno when it runs out of memory (R15).
        killed_pids = kill_tree(doomed.pid)
        assert len(killed_pids) >= 3, "worker, work-horse and scheduler"
        doomed.wait(10)
    finally:
        doomed.stop()

    # Nothing had a chance to record anything: the job still looks started.
    killed = fetch(job.id, redis_conn)
    assert killed.get_status() == "started"
    assert job.id in StartedJobRegistry(queue=queue).get_job_ids(cleanup=False)
    assert killed.meta == {}

    stalling_sink.stall_seconds = 0
    replacement = start_worker(settings, tmp_path, "replacement", **intervals)
    try:
        wait_for(
            lambda: fetch(job.id, redis_conn).get_status() == "finished", timeout=120, interval=0.5, what="the abandoned job to run again"
        )
    finally:
        replacement.stop()

    rerun = fetch(job.id, redis_conn)
    # RQ's maintenance found it abandoned: our failure callback recorded why,
    # then its Retry ran it again.
    assert rerun.meta == {"error": "the worker stopped while sending (it was restarted or ran out of memory)", "attempts": 1}
    assert rerun.retries_left == 1
    [received] = stalling_sink.messages
    assert_fibonacci_email(received, "grace@example.com", 7)
