"""Each way sending can fail, through the real worker (``--burst``): transient
failures are retried (RETRY_INTERVALS) then fail with the reason, permanent
ones fail at once; the reason is on the status page and with the job in RQ's
failed-job registry. The reason names the kind of failure; the provider's
own words, its host and the address stay in the worker's log (masked)."""

from __future__ import annotations

import json
import socket

import pytest

from jobs.core.at_most_once import claim_key, mark_done, owner, release_dead_run
from jobs.core.privacy import mask_emails_in
from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import free_port
from tests.support.slow_smtp import StallingSmtpSink
from tests.test_worker import fetch, run_worker_burst

RETRIES = (0, 0)  # two retries, at once: attempts = 3 for a transient failure
# What users see for each kind of failure (jobs/core/mail/__init__.py).
REFUSED_ADDRESS = "the address was refused"
MISCONFIGURED = "the mail service is not configured correctly; it has been reported"
BUSY = "the mail service could not take the email just now"
UNREACHABLE = "the mail service could not be reached"


def assert_failed(job, redis_conn, queue, client, attempts: int, reason: str) -> None:
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed"
    assert stored.meta["attempts"] == attempts
    assert stored.meta["error"] == reason
    assert job.id in queue.failed_job_registry.get_job_ids()
    assert client.get(f"/api/jobs/{job.id}").get_json()["error"] == reason
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Traceback" not in page


def assert_details_only_in_the_log(job, client, log: str, *details: str) -> None:
    """Anyone with the job's link sees the status page and API: none of ``details`` (the provider's words,
    its host, the address, masked or not) is there. The worker's log has each, addresses masked."""
    shown = json.dumps(client.get(f"/api/jobs/{job.id}").get_json()) + client.get(f"/jobs/{job.id}").get_data(as_text=True)
    for detail in details:
        assert detail not in shown and mask_emails_in(detail) not in shown
        assert mask_emails_in(detail) in log, detail
        if "@" in detail:
            assert detail not in log


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_sendgrid_client_errors_fail_at_once(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path, status):
    sendgrid_stub.fail_with(status, "The from address does not match a verified Sender Identity.", "from")
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=1, reason=MISCONFIGURED)
    detail = f"SendGrid answered {status}: from: The from address does not match a verified Sender Identity."
    assert_details_only_in_the_log(job, client, log, detail)
    assert len(sendgrid_stub.requests) == 1


def test_sendgrid_refusing_the_api_key_says_the_service_is_misconfigured(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path):
    settings = settings_with(sendgrid_api_key="SG.revoked", sendgrid_api_host=sendgrid_stub.host, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=1, reason=MISCONFIGURED)
    assert_details_only_in_the_log(job, client, log, "SendGrid answered 401", "The provided authorization grant is invalid")


def test_sendgrid_refusing_the_address_says_so_without_its_words(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path):
    sendgrid_stub.fail_with(400, "Does not contain a valid address.", "personalizations.0.to.0.email")
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=1, reason=REFUSED_ADDRESS)
    assert_details_only_in_the_log(job, client, log, "SendGrid answered 400", "Does not contain a valid address.")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_sendgrid_throttling_and_server_errors_are_retried(settings_with, sendgrid_stub, redis_conn, queue, client, tmp_path, status):
    sendgrid_stub.fail_with(status, "try again later")
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=3, reason=BUSY)
    assert_details_only_in_the_log(job, client, log, f"SendGrid answered {status}: try again later")
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
    assert stored.meta["error"] == UNREACHABLE


@pytest.fixture
def rcpt_sink():
    sink = StallingSmtpSink().start()
    yield sink
    sink.stop()


def test_smtp_invalid_recipient_fails_at_once(settings_with, rcpt_sink, redis_conn, queue, client, tmp_path):
    rcpt_sink.rcpt_reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
    settings = settings_with(smtp_url=rcpt_sink.url, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "nobody@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=1, reason=REFUSED_ADDRESS)
    # The server's reply would tell anyone with the link whether the mailbox exists, and repeats the address.
    detail = "the mail server refused the recipient: 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
    assert_details_only_in_the_log(job, client, log, detail, "nobody@example.com")


def test_smtp_recipient_deferred_is_retried(settings_with, rcpt_sink, redis_conn, queue, client, tmp_path):
    rcpt_sink.rcpt_reply = "450 4.2.0 <ada@example.com>: Recipient address rejected: Greylisted"
    settings = settings_with(smtp_url=rcpt_sink.url, retry_intervals=RETRIES)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=3, reason=BUSY)
    detail = "the mail server refused the recipient: 4.2.0 <ada@example.com>: Recipient address rejected: Greylisted"
    assert_details_only_in_the_log(job, client, log, detail)


def test_smtp_timeout_is_retried(settings_with, redis_conn, queue, client, tmp_path):
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings = settings_with(smtp_url=f"smtp://127.0.0.1:{silent.getsockname()[1]}", retry_intervals=(0,), mail_timeout=1)
        job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
        run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed" and stored.meta["attempts"] == 2
    assert stored.meta["error"] == UNREACHABLE


def test_an_unreachable_mail_server_is_named_only_in_the_log(settings_with, redis_conn, queue, client, tmp_path):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = settings_with(smtp_url=f"smtp://{address}", retry_intervals=(0,))
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    log = run_worker_burst(settings, tmp_path)
    assert_failed(job, redis_conn, queue, client, attempts=2, reason=UNREACHABLE)
    assert_details_only_in_the_log(job, client, log, f"could not reach the mail server at {address}", "Connection refused")


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
