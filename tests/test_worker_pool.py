"""WORKER_CONCURRENCY > 1: the real `python -m worker` runs a pool of in-process workers."""

from __future__ import annotations

import signal
import time

import pytest
from rq.job import Job

from jobs.core.settings import ConfigurationError, load_settings
from jobs.tasks import enqueue_fibonacci_email
from tests.support.mail_checks import assert_fibonacci_email
from tests.support.processes import environment_for, python_process


def fetch(job_id, redis_conn) -> Job:
    return Job.fetch(job_id, connection=redis_conn)


def test_worker_concurrency_is_a_positive_whole_number():
    assert load_settings({}).worker_concurrency == 1
    assert load_settings({"WORKER_CONCURRENCY": "16"}).worker_concurrency == 16
    with pytest.raises(ConfigurationError, match="WORKER_CONCURRENCY must be at least 1"):
        load_settings({"WORKER_CONCURRENCY": "0"})


@pytest.mark.slow
def test_a_pool_of_workers_sends_every_job_once(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=smtp_sink.url)
    jobs = [enqueue_fibonacci_email(queue, settings, f"reader{number}@example.com", 10 + number) for number in range(6)]
    process = python_process(["-m", "worker", "--burst"], environment_for(settings, WORKER_CONCURRENCY="3"), tmp_path / "worker.log")
    try:
        assert process.wait(60) == 0, process.output()
    finally:
        process.stop()
    messages = sorted(smtp_sink.wait_for_messages(6), key=lambda mail: mail.recipients[0])
    assert len(messages) == 6
    for number, message in enumerate(messages):
        assert_fibonacci_email(message, f"reader{number}@example.com", 10 + number)
    assert {fetch(job.id, redis_conn).get_status() for job in jobs} == {"finished"}
    # Three worker processes took part.
    assert len({line.split("Worker ")[1].split(":")[0] for line in process.output().splitlines() if "Job OK" in line}) >= 2


@pytest.mark.slow
def test_sigterm_interrupts_the_running_job_and_it_is_retried(settings_with, smtp_sink, redis_conn, queue, tmp_path):
    smtp_sink.delay = 30  # the provider hangs; Heroku restarts the dyno meanwhile
    settings = settings_with(smtp_url=smtp_sink.url, mail_timeout=60, retry_intervals=(60,))
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 10)
    process = python_process(["-m", "worker"], environment_for(settings, WORKER_CONCURRENCY="2"), tmp_path / "worker.log")
    try:
        assert smtp_sink.data_received.wait(30), process.output()  # inside the SMTP conversation, waiting for the reply
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, process.output()
        # Interrupted after imminent_shutdown_delay (5 s), well before Heroku's SIGKILL at 30 s.
        assert time.monotonic() - stopping < 15
    finally:
        process.stop()
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "scheduled"
    assert job.id in queue.scheduled_job_registry.get_job_ids()
    assert stored.meta == {"error": "the worker was restarted while sending", "attempts": 1}
    assert "ShutDownImminentException" in process.output()
