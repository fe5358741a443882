"""The commands docs/operating.md gives operators, run for real against a test Redis:
RQ's own ``rq`` executable, unpatched and with only ``--url``, and
``python -m jobs.core.failed_jobs``; plus ``rediss://`` with a password and a
self-signed certificate, as Heroku Redis serves it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq.job import Job

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import PROJECT_ROOT, environment_for, python_process
from web import create_app

# The venv's own, as `pip install -r requirements.txt` puts it on PATH.
RQ = str(Path(sys.executable).parent / "rq")


NOWHERE = "redis://127.0.0.1:9/0"


def run(args: list[str], settings, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=PROJECT_ROOT, env=environment_for(settings, **env), capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def rq(args: list[str], url: str, settings, check: bool = True) -> subprocess.CompletedProcess:
    """RQ's own command with ``--url``; REDIS_URL points nowhere, so only the URL counts."""
    return run([RQ, *args, "--url", url], settings, check, REDIS_URL=NOWHERE)


def failed_job(queue, settings, tmp_path) -> Job:
    """A job that really failed: a worker ran it with arguments it refuses."""
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 0)
    worker = python_process(["-m", "worker", "--burst"], environment_for(settings), tmp_path / "worker.log")
    try:
        assert worker.wait(60) == 0, worker.output()
    finally:
        worker.stop()
    assert queue.failed_job_registry.get_job_ids() == [job.id]
    return job


def requeue_and_check(job: Job, queue, url: str, settings) -> None:
    info = rq(["info"], url, settings).stdout
    assert "default" in info and "1 failed" in info
    assert "Requeueing 1 jobs" in rq(["requeue", "--queue", "default", "--all"], url, settings).stdout
    assert queue.failed_job_registry.get_job_ids() == []
    assert queue.get_job_ids() == [job.id]
    requeued = Job.fetch(job.id, connection=queue.connection)
    assert requeued.args == ("ada@example.com", 0) and requeued.meta["attempts"] == 1


def test_rq_info_requeue_and_empty_as_the_readme_gives_them(settings, queue, tmp_path):
    job = failed_job(queue, settings, tmp_path)
    requeue_and_check(job, queue, settings.redis_url, settings)
    assert "1 jobs removed from default queue" in rq(["empty", "default"], settings.redis_url, settings).stdout
    assert queue.count == 0


def test_failed_jobs_can_be_listed_and_cleared(settings, queue, tmp_path):
    job = failed_job(queue, settings, tmp_path)
    # Reads REDIS_URL from the environment, as on Heroku.
    listing = run([sys.executable, "-m", "jobs.core.failed_jobs", "list"], settings).stdout
    assert job.id in listing and "length must be a whole number" in listing and "attempts=1" in listing
    assert "ada@example.com" not in listing and "a***@example.com" in listing

    cleared = run([sys.executable, "-m", "jobs.core.failed_jobs", "clear", "--all"], settings).stdout
    assert "deleted 1 failed job(s)" in cleared
    assert queue.failed_job_registry.get_job_ids() == []
    assert not queue.connection.exists(job.key)


def test_rq_info_retries_an_abandoned_job_as_the_worker_would(settings, queue, redis_conn):
    """`rq info` cleans registries, so it may be the one that finds a job
    whose worker died; the job is retried with its reason, still readable."""
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    redis_conn.lrem(queue.key, 0, job.id)
    job.set_status("started")
    redis_conn.zadd(queue.started_job_registry.key, {f"{job.id}:lost-execution": 1})
    rq(["info"], settings.redis_url, settings)
    stored = Job.fetch(job.id, connection=redis_conn)
    assert stored.meta == {"error": "the worker stopped while sending (it was restarted or ran out of memory)", "attempts": 1}
    assert stored.args == ("ada@example.com", 5)
    assert stored.get_status() in ("queued", "scheduled")


@pytest.mark.slow
def test_web_worker_and_rq_connect_to_rediss_with_a_self_signed_certificate(tls_redis_server, settings_with, smtp_sink, tmp_path):
    url = tls_redis_server.url  # rediss://:<password>@host:port, as Heroku sets REDIS_URL
    # Verification on (redis-py's default) refuses the certificate, as it would Heroku's.
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()

    # As on Heroku, where REDIS_VERIFY_CERTIFICATE is off unless set.
    settings = settings_with(redis_url=url, smtp_url=smtp_sink.url, redis_verify_certificate=False)
    client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()
    assert client.get("/healthz").get_json()["redis"] == "ok"

    queue = get_queue(connect_redis(redis_client_url(settings)), settings)
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 3)
    worker = python_process(["-m", "worker", "--burst"], environment_for(settings), tmp_path / "worker.log")
    try:
        assert worker.wait(60) == 0, worker.output()
    finally:
        worker.stop()
    assert Job.fetch(job.id, connection=queue.connection).get_status() == "finished"
    assert len(smtp_sink.wait_for_messages(1)) == 1

    # rq as docs/operating.md gives it: the option redis-py needs, in the URL.
    refused = rq(["info"], url, settings, check=False)
    assert refused.returncode != 0 and "certificate verify failed" in refused.stdout + refused.stderr
    requeue_and_check(failed_job(queue, settings, tmp_path), queue, url + "?ssl_cert_reqs=none", settings)
