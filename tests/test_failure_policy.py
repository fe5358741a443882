"""Each way sending can fail, through the real worker (``--burst``): transient
failures are retried (RETRY_INTERVALS) then fail with the reason, permanent
ones fail at once; the reason is on the status page and with the job in RQ's
failed-job registry."""

from __future__ import annotations

import socket

import pytest

from jobs.core.at_most_once import claim_key, mark_done, owner, release_dead_run
from jobs.tasks import enqueue_fibonacci_email
from tests.support.slow_smtp import StallingSmtpSink
from tests.test_worker import fetch, run_worker_burst

RETRIES = (0, 0)  # two retries, at once: attempts = 3 for a transient failure


def assert_failed(job, redis_conn, queue, client, attempts: int, reason: str) -> None:
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed"
    assert stored.meta["attempts"] == attempts
    assert stored.meta["error"] == reason
    assert job.id in queue.failed_job_registry.get_job_ids()
    assert client.get(f"/api/jobs/{job.id}").get_json()["error"] == reason
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Traceback" not in page


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_sendgrid_client_errors_fail_at_once(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path, status):
    sendgrid_stub.fail_with(status, "The from address does not match a verified Sender Identity.", "from")
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    run_worker_burst(settings, tmp_path)
    reason = f"SendGrid answered {status}: from: The from address does not match a verified Sender Identity."
    assert_failed(job, redis_conn, queue, client, attempts=1, reason=reason)
    assert len(sendgrid_stub.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_sendgrid_throttling_and_server_errors_are_retried(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path, status):
    sendgrid_stub.fail_with(status, "try again later")
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=3, reason=f"SendGrid answered {status}: try again later")
    assert len(sendgrid_stub.requests) == 3


def test_sendgrid_timeout_is_retried(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path):
    sendgrid_stub.delay = 2
    settings = settings_with(
        sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host, retry_intervals=(0,), mail_timeout=1
    )
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed" and stored.meta["attempts"] == 2
    assert stored.meta["error"].startswith("could not reach SendGrid")


@pytest.fixture
def rcpt_sink():
    sink = StallingSmtpSink().start()
    yield sink
    sink.stop()


def test_smtp_invalid_recipient_fails_at_once(settings_with, rcpt_sink, redis_conn, queue, client, tmp_path):
    rcpt_sink.rcpt_reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
    settings = settings_with(smtp_url=rcpt_sink.url, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "nobody@example.com", 5)
    run_worker_burst(settings, tmp_path)
    reason = "the mail server refused the recipient: 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
    assert_failed(job, redis_conn, queue, client, attempts=1, reason=reason)


def test_smtp_recipient_deferred_is_retried(settings_with, rcpt_sink, redis_conn, queue, client, tmp_path):
    rcpt_sink.rcpt_reply = "450 4.2.0 <ada@example.com>: Recipient address rejected: Greylisted"
    settings = settings_with(smtp_url=rcpt_sink.url, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    run_worker_burst(settings, tmp_path)
    reason = "the mail server refused the recipient: 4.2.0 <ada@example.com>: Recipient address rejected: Greylisted"
    assert_failed(job, redis_conn, queue, client, attempts=3, reason=reason)


def test_smtp_timeout_is_retried(settings_with, redis_conn, queue, client, tmp_path):
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings = settings_with(smtp_url=f"smtp://127.0.0.1:{silent.getsockname()[1]}", retry_intervals=(0,), mail_timeout=1)
        job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
        run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed" and stored.meta["attempts"] == 2
    assert stored.meta["error"].endswith("timed out")


def test_retry_intervals_are_the_configured_ones(settings_with, queue):
    job = enqueue_fibonacci_email(queue, settings_with(retry_intervals=(10, 30, 120, 600)), "ada@example.com", 5)
    assert job.retries_left == 4
    assert job.retry_intervals == [10, 30, 120, 600]


def test_a_second_run_of_a_job_while_the_first_is_sending_does_not_send(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=smtp_sink.url)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    redis_conn.set(claim_key(job.id), owner("another-worker", 4242), ex=180)  # as if another run were mid-send
    run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert smtp_sink.messages == []
    # Not reported as sent: the other run may still fail.
    assert stored.get_status() == "failed"
    assert stored.meta["error"] == "another attempt of this job is still running; it will be checked again"

    # The other run sent it: a retry finds the marker and sends nothing.
    mark_done(redis_conn, job.id, "sent by the other run")
    redis_conn.delete(claim_key(job.id))
    queue.failed_job_registry.requeue(job.id)
    run_worker_burst(settings, tmp_path)
    assert fetch(job.id, redis_conn).return_value() == {"already_done": True}
    assert smtp_sink.messages == []


def test_a_run_that_died_holding_its_claim_does_not_stop_the_retry_from_sending(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=smtp_sink.url)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    redis_conn.set(claim_key(job.id), owner("dead-worker", 4242), ex=180)
    run_worker_burst(settings, tmp_path)
    assert fetch(job.id, redis_conn).get_status() == "failed" and smtp_sink.messages == []
    # The worker that saw its work-horse die releases it (or it lapses).
    release_dead_run(fetch(job.id, redis_conn), "dead-worker", 4242)
    queue.failed_job_registry.requeue(job.id)
    run_worker_burst(settings, tmp_path)
    assert fetch(job.id, redis_conn).return_value() == {"length": 5}
    assert len(smtp_sink.wait_for_messages(1)) == 1
