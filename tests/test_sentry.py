"""Sentry from real processes: gunicorn and ``python -m worker`` send their
events to a local stand-in for Sentry's ingest endpoint (tests/support/sentry_stub.py).

Each failure is one event, with tags to find it by, and without the
recipient's address or any secret in it.
"""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.parse
import urllib.request

import pytest
from rq.job import Job

from jobs.tasks import enqueue_fibonacci_email
from tests.support.process_tree import work_horse_of
from tests.support.processes import Process, environment_for, free_port, kill_tree, python_process, wait_for
from tests.support.procfile import read_procfile
from tests.support.sentry_stub import SentryStub

SENDGRID_KEY = "SG.sentry-test-sendgrid-key-must-not-leak"
RECIPIENT = "ada.lovelace@example.com"
FUNCTION = "jobs.tasks.send_fibonacci_email"


@pytest.fixture
def sentry():
    stub = SentryStub().start()
    yield stub
    stub.stop()


def sentry_env(settings, sentry, **extra):
    return environment_for(
        settings,
        SENTRY_DSN=sentry.dsn,
        SENTRY_ENVIRONMENT="ci",
        HEROKU_SLUG_COMMIT="0123abc",
        **extra,
    )


def assert_nothing_private(sentry, settings):
    received = sentry.everything_received()
    assert received  # the check below means something only if events arrived
    for private in (RECIPIENT, settings.secret_key, SENDGRID_KEY):
        assert private not in received


def tags_of(event) -> dict:
    return event.get("tags", {})


def assert_tagged(event, **expected) -> None:
    tags = tags_of(event)
    assert {name: tags.get(name) for name in expected} == expected, tags


def job_status(job_id, redis_conn) -> str:
    return Job.fetch(job_id, connection=redis_conn).get_status()


@pytest.mark.slow
def test_an_unhandled_error_in_a_view_is_one_event_tagged_with_the_request_id(settings_with, sentry, redis_conn, tmp_path):
    # The web never sends mail; the key is here so the view can try to leak it.
    settings = settings_with(sendgrid_api_key=SENDGRID_KEY, sendgrid_api_host=f"http://127.0.0.1:{free_port()}")
    port = free_port()
    command = read_procfile()["web"].replace('"web:create_app()"', '"tests.support.failing_app:create_app()"')
    web = Process(["bash", "-c", "exec " + command], sentry_env(settings, sentry, PORT=str(port)), tmp_path / "web.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/healthz", timeout=1).status == 200, timeout=30, what="gunicorn")
        request = urllib.request.Request(
            base + "/test-only/fail",
            data=urllib.parse.urlencode({"email": RECIPIENT}).encode(),
            headers={"X-Request-ID": "req-sentry-view-0001"},
        )
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=5)
        assert failed.value.code == 500
        assert failed.value.headers["X-Request-ID"] == "req-sentry-view-0001"
        [event] = sentry.wait_for_events(1)
    finally:
        web.stop()  # its processes send what they still hold as they exit (sentry-sdk flushes at exit)
    assert len(sentry.events) == 1, sentry.events
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert tags_of(event)["request_id"] == "req-sentry-view-0001"
    assert event["environment"] == "ci" and event["release"] == "0123abc"
    assert "could not handle a***@example.com (keys [Filtered] [Filtered])" in event["exception"]["values"][-1]["value"]
    assert_nothing_private(sentry, settings)
    assert RECIPIENT not in web.output()


@pytest.mark.slow
def test_a_job_that_fails_for_good_is_one_event_not_one_per_attempt(settings_with, sentry, sendgrid_stub, redis_conn, queue, tmp_path):
    sendgrid_stub.api_key = SENDGRID_KEY
    sendgrid_stub.fail_with(503, "try later")  # transient: retried, then failed for good
    settings = settings_with(sendgrid_api_key=SENDGRID_KEY, sendgrid_api_host=sendgrid_stub.host, retry_intervals=(0, 0))
    job = enqueue_fibonacci_email(queue, settings, RECIPIENT, 5, meta={"request_id": "req-sentry-job-0002"})
    worker = python_process(["-m", "worker", "--burst"], sentry_env(settings, sentry), tmp_path / "worker.log")
    try:
        assert worker.wait(60) == 0, worker.output()
    finally:
        worker.stop()

    assert len(sendgrid_stub.requests) == 3  # the first try and two retries
    assert job_status(job.id, redis_conn) == "failed"
    # The worker flushed before exiting: what arrived is all there is.
    [event] = sentry.events
    assert_tagged(event, job_id=job.id, queue="default", function=FUNCTION, request_id="req-sentry-job-0002")
    assert event["environment"] == "ci"
    # The provider's own words, which the status page leaves out, reach Sentry.
    assert event["exception"]["values"][-1]["value"] == "SendGrid answered 503: try later"
    assert_nothing_private(sentry, settings)


def kill_work_horse(worker: Process) -> int:
    horse = wait_for(lambda: work_horse_of(worker.pid), timeout=20, what="the work-horse")
    os.kill(horse, signal.SIGKILL)
    return horse


@pytest.mark.slow
def test_a_job_whose_work_horse_is_killed_each_attempt_is_one_event(settings_with, sentry, smtp_sink, redis_conn, queue, tmp_path):
    smtp_sink.delay = 30  # each attempt hangs until we kill it
    settings = settings_with(smtp_url=smtp_sink.url, retry_intervals=(0,), mail_timeout=25)
    job = enqueue_fibonacci_email(queue, settings, RECIPIENT, 5, meta={"request_id": "req-sentry-kill-0003"})
    worker = python_process(["-m", "worker"], sentry_env(settings, sentry), tmp_path / "worker.log")
    try:
        first = kill_work_horse(worker)
        # RQ retries the job at once (interval 0) in a new work-horse; kill that too.
        second = wait_for(lambda: (horse := work_horse_of(worker.pid)) not in (None, first) and horse, timeout=20, what="the retry")
        os.kill(second, signal.SIGKILL)
        wait_for(lambda: job_status(job.id, redis_conn) == "failed", timeout=20, what="the job to fail")
        [event] = sentry.wait_for_events(1)
    finally:
        smtp_sink.delay = 0
        worker.stop()  # sends what it still holds as it exits
    assert len(sentry.events) == 1, sentry.events
    assert event["exception"]["values"][-1]["type"] == "WorkHorseKilled"
    assert "signal 9" in event["exception"]["values"][-1]["value"]
    assert_tagged(event, job_id=job.id, queue="default", function=FUNCTION, request_id="req-sentry-kill-0003")
    assert_nothing_private(sentry, settings)


def kill_worker_outright(worker: Process, job_id, redis_conn) -> None:
    """SIGKILL the worker, its work-horse and its scheduler together, as Heroku
    does to a dyno that ignores SIGTERM or runs out of memory (R15)."""
    wait_for(lambda: work_horse_of(worker.pid), timeout=20, what="the work-horse")
    wait_for(lambda: job_status(job_id, redis_conn) == "started", timeout=20, what="the job to start")
    kill_tree(worker.pid)
    worker.stop()


def expire_heartbeats(queue) -> None:
    """Fast-forward past the dead worker's last heartbeat (about 70 s with our
    settings), so the next worker's start-up maintenance finds its job
    abandoned now rather than in a minute. The dead run's claim to send
    is the worker's to release (jobs/core/at_most_once.py)."""
    registry = queue.started_job_registry
    entries = queue.connection.zrange(registry.key, 0, -1)
    assert entries
    queue.connection.zadd(registry.key, dict.fromkeys(entries, 1))


@pytest.mark.slow
def test_a_job_abandoned_by_a_killed_worker_is_one_event(settings_with, sentry, smtp_sink, redis_conn, queue, tmp_path):
    smtp_sink.delay = 30
    settings = settings_with(smtp_url=smtp_sink.url, retry_intervals=(0,), mail_timeout=25)
    job = enqueue_fibonacci_email(queue, settings, RECIPIENT, 5, meta={"request_id": "req-sentry-lost-0004"})
    env = sentry_env(settings, sentry)
    workers = []
    try:
        workers.append(first := python_process(["-m", "worker"], env, tmp_path / "worker1.log"))
        kill_worker_outright(first, job.id, redis_conn)
        expire_heartbeats(queue)
        # The next worker finds it abandoned, retries it (no event: a retry is
        # left), and dies the same way.
        workers.append(second := python_process(["-m", "worker"], env, tmp_path / "worker2.log"))
        kill_worker_outright(second, job.id, redis_conn)
        assert sentry.events == []
        expire_heartbeats(queue)
        # The third finds it abandoned with no retry left: failed for good.
        workers.append(third := python_process(["-m", "worker", "--burst"], env, tmp_path / "worker3.log"))
        assert third.wait(60) == 0, third.output()
    finally:
        smtp_sink.delay = 0
        for worker in workers:
            worker.stop()
    assert job_status(job.id, redis_conn) == "failed"
    [event] = sentry.events
    assert event["exception"]["values"][-1]["type"] == "AbandonedJobError"
    assert_tagged(event, job_id=job.id, queue="default", function=FUNCTION, request_id="req-sentry-lost-0004")
    assert "request_id=req-sentry-lost-0004" in third.output()
    assert_nothing_private(sentry, settings)
