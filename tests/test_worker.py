"""Jobs run by the real worker process (``python -m worker --burst``) against
a real Redis and a real SMTP server or the SendGrid stand-in."""

from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Job

from jobs.core.at_most_once import is_done, mark_done
from jobs.core.connection import FibTasticQueue
from jobs.core.enqueue_policy import RESULT_TTL
from jobs.tasks import enqueue_fibonacci_email
from tests.support.mail_checks import assert_fibonacci_email, numbers_in_text
from tests.support.processes import environment_for, python_process
from tests.support.upstream import UpstreamBugStillThere


def run_worker_burst(settings, tmp_path, timeout=60) -> str:
    process = python_process(["-m", "worker", "--burst"], environment_for(settings), tmp_path / "worker.log")
    try:
        returncode = process.wait(timeout)
    finally:
        process.stop()
    output = process.output()
    assert returncode == 0, output
    return output


def fetch(job_id, redis_conn) -> Job:
    return Job.fetch(job_id, connection=redis_conn)


def test_worker_sends_one_email_per_job(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=smtp_sink.url)
    first = enqueue_fibonacci_email(queue, settings, "ada@example.com", 1000)
    second = enqueue_fibonacci_email(queue, settings, "grace@example.com", 1)
    output = run_worker_burst(settings, tmp_path)

    messages = sorted(smtp_sink.wait_for_messages(2), key=lambda mail: mail.recipients)
    assert len(messages) == 2
    assert_fibonacci_email(messages[0], "ada@example.com", 1000)
    assert_fibonacci_email(messages[1], "grace@example.com", 1)
    assert messages[0].message["From"] == settings.mail_from
    for job in (first, second):
        assert fetch(job.id, redis_conn).get_status() == "finished"
    # Addresses are masked in the worker's logs.
    assert "ada@example.com" not in output and "a***@example.com" in output


def test_worker_uses_sendgrid_when_a_key_is_set(settings_with, sendgrid_stub, redis_conn, queue, tmp_path):
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 40)
    run_worker_burst(settings, tmp_path)
    [body] = sendgrid_stub.accepted
    assert body["personalizations"][0]["to"] == [{"email": "ada@example.com"}]
    assert len(numbers_in_text(body["content"][0]["value"])) == 40
    assert fetch(job.id, redis_conn).get_status() == "finished"


def test_permanent_failure_fails_at_once_with_a_reason(settings_with, smtp_sink, redis_conn, queue, tmp_path, client):
    smtp_sink.reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    settings = settings_with(smtp_url=smtp_sink.url, retry_intervals=(0, 0, 0))
    job = enqueue_fibonacci_email(queue, settings, "nobody@example.com", 5)
    output = run_worker_burst(settings, tmp_path)

    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed"
    assert stored.meta["attempts"] == 1  # no retries for a permanent failure
    assert job.id in queue.failed_job_registry.get_job_ids()
    status = client.get(f"/api/jobs/{job.id}").get_json()
    assert status["status"] == "failed"
    # The kind of failure for whoever has the link; the server's reply for the log, address masked.
    assert status["error"] == "the mail service refused the email"
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "the mail service refused the email" in page and "Recipient address rejected" not in page and "Traceback" not in page
    assert "550 5.1.1 <n***@example.com>: Recipient address rejected" in output and "nobody@example.com" not in output


def test_transient_failure_is_retried_then_fails_with_the_reason(settings_with, smtp_sink, redis_conn, queue, tmp_path, client):
    smtp_sink.reply = "451 4.7.1 Greylisted, try again later"
    settings = settings_with(smtp_url=smtp_sink.url, retry_intervals=(0, 0))
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    run_worker_burst(settings, tmp_path)

    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed"
    assert stored.meta["attempts"] == 3  # the first try and two retries
    assert client.get(f"/api/jobs/{job.id}").get_json()["error"] == "the mail service could not take the email just now"


def test_transient_failure_that_clears_up_sends_exactly_once(settings, settings_with, smtp_sink, redis_conn, queue, tmp_path):
    job = enqueue_fibonacci_email(queue, settings_with(retry_intervals=(0,)), "ada@example.com", 5)
    # settings.smtp_url is a port nothing listens on: connection refused, transient.
    run_worker_burst(settings, tmp_path)
    first_run = fetch(job.id, redis_conn)
    assert first_run.get_status() == "failed"
    assert first_run.meta["attempts"] == 2  # the first try and its one retry
    assert first_run.meta["error"] == "the mail service could not be reached"

    # Requeue it (as `rq requeue` would) once the mail server is up.
    queue.failed_job_registry.requeue(job.id)
    run_worker_burst(settings_with(smtp_url=smtp_sink.url), tmp_path)
    assert fetch(job.id, redis_conn).get_status() == "finished"
    assert len(smtp_sink.wait_for_messages(1)) == 1


def test_a_job_whose_email_was_already_sent_does_not_send_again(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=smtp_sink.url)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    # As if an earlier run of this job handed the email over, then died.
    mark_done(redis_conn, job.id, "earlier")
    run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "finished"
    assert stored.return_value() == {"already_done": True}
    assert smtp_sink.messages == []


def test_a_sent_job_records_the_send(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=smtp_sink.url)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    run_worker_burst(settings, tmp_path)
    assert is_done(redis_conn, job.id)
    # Recorded in the job itself, so it expires with the job.
    assert 0 < redis_conn.ttl(job.key) <= RESULT_TTL


@pytest.mark.parametrize("length", [0, 1001, "5", True])
def test_a_job_enqueued_with_impossible_arguments_fails_without_retries(settings_with, smtp_sink, redis_conn, queue, tmp_path, length):
    settings = settings_with(smtp_url=smtp_sink.url)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", length)
    run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed"
    assert stored.meta == {"error": "length must be a whole number from 1 to 1000", "attempts": 1}
    assert smtp_sink.messages == []


def test_worker_refuses_to_start_on_heroku_without_its_settings(settings, tmp_path):
    env = environment_for(settings, DYNO="worker.1", SECRET_KEY="", MAIL_FROM="")
    process = python_process(["-m", "worker"], env, tmp_path / "worker.log")
    returncode = process.wait(30)
    process.stop()
    assert returncode == 2
    output = process.output()
    assert "FibTastic cannot start on Heroku" in output and "MAIL_FROM" in output and "SECRET_KEY" in output


def test_a_worker_killed_mid_maintenance_holds_the_queue_s_lock_a_minute_not_fifteen(redis_conn, queue):
    # The lock a dead worker leaves behind stops every other worker from
    # retrying abandoned jobs until it expires (jobs/core/connection.py).
    assert queue.acquire_maintenance_lock()
    assert 0 < redis_conn.ttl(queue.registry_cleaning_key) <= 60
    assert not queue.acquire_maintenance_lock()  # still one worker at a time
    queue.release_maintenance_lock()


@pytest.mark.upstream_bug("https://github.com/rq/rq/issues/2005", workaround="FibTasticQueue in jobs/core/connection.py")
def test_rq_s_own_maintenance_lock_still_lasts_fifteen_minutes(redis_conn):
    # Once RQ's own lock lasts no longer than ours, FibTasticQueue can go, and get_queue returns RQ's Queue.
    stock = Queue("default", connection=redis_conn)
    assert stock.acquire_maintenance_lock()
    ttl = redis_conn.ttl(stock.registry_cleaning_key)
    if ttl > FibTasticQueue.MAINTENANCE_LOCK_SECONDS:
        raise UpstreamBugStillThere(f"RQ's own maintenance lock lasts {ttl} s")
