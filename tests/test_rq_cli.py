"""The commands the README gives operators, run for real against a test Redis:
RQ's ``rq`` (raw and through ``python -m jobs.rq_cli``) and ``python -m jobs.core.failed_jobs``,
plus ``rediss://`` with a self-signed certificate, as Heroku Redis serves it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq.job import Job

from jobs.core.connection import SERIALIZER, connect_redis, get_queue
from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import PROJECT_ROOT, environment_for, python_process
from web import create_app


def run(args: list[str], settings, **env) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=PROJECT_ROOT, env=environment_for(settings, **env), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def rq_command() -> str:
    return str(Path(sys.executable).parent / "rq")


def failed_job(queue, settings, tmp_path) -> Job:
    """A job that really failed: a worker ran it with arguments it refuses."""
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 0)
    worker = python_process(["-m", "worker", "--burst"], environment_for(settings), tmp_path / "worker.log")
    assert worker.wait(60) == 0, worker.output()
    worker.stop()
    assert job.id in queue.failed_job_registry.get_job_ids()
    return job


def test_rq_info_and_requeue_as_the_readme_gives_them(settings, queue, redis_conn, tmp_path):
    job = failed_job(queue, settings, tmp_path)
    info = run([sys.executable, "-m", "jobs.rq_cli", "info"], settings).stdout
    assert "default" in info and "1 failed" in info

    # RQ's own command with the flags spelled out, as on a laptop.
    requeue = [rq_command(), "requeue", "--queue", "default", "--all", "--config", "jobs.rq_config", "--serializer", "json"]
    assert "Requeueing 1 jobs" in run(requeue, settings).stdout
    assert queue.failed_job_registry.get_job_ids() == []
    assert queue.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=redis_conn, serializer=SERIALIZER).meta["attempts"] == 1  # meta still JSON

    assert "1 jobs removed from default queue" in run([sys.executable, "-m", "jobs.rq_cli", "empty", "default"], settings).stdout
    assert queue.count == 0


def test_failed_jobs_can_be_listed_and_cleared(settings, queue, tmp_path):
    job = failed_job(queue, settings, tmp_path)
    listing = run([sys.executable, "-m", "jobs.core.failed_jobs", "list"], settings).stdout
    assert job.id in listing and "length must be a whole number" in listing and "attempts=1" in listing
    assert "ada@example.com" not in listing and "a***@example.com" in listing

    cleared = run([sys.executable, "-m", "jobs.core.failed_jobs", "clear", "--all"], settings).stdout
    assert "deleted 1 failed job(s)" in cleared
    assert queue.failed_job_registry.get_job_ids() == []
    assert not queue.connection.exists(job.key)


def test_rq_info_leaves_an_abandoned_job_readable(settings, queue, redis_conn):
    """`rq info` cleans registries; with JSONQueue it retries an abandoned job
    without re-saving it as pickle."""
    job = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    redis_conn.lrem(queue.key, 0, job.id)
    job.set_status("started")
    redis_conn.zadd(queue.started_job_registry.key, {f"{job.id}:lost-execution": 1})
    run([sys.executable, "-m", "jobs.rq_cli", "info"], settings)
    stored = Job.fetch(job.id, connection=redis_conn, serializer=SERIALIZER)
    assert stored.meta == {"error": "the worker stopped while sending (it was restarted or ran out of memory)", "attempts": 1}
    assert stored.get_status() in ("queued", "scheduled")


@pytest.fixture
def tls_redis_url(tls_redis_server):
    return tls_redis_server.url


@pytest.mark.slow
def test_web_worker_and_cli_connect_to_rediss_with_a_self_signed_certificate(tls_redis_url, settings_with, smtp_sink, tmp_path):
    # Verification on (redis-py's default) refuses the certificate, as it would Heroku's.
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        redis.Redis.from_url(tls_redis_url, socket_connect_timeout=2).ping()

    settings = settings_with(redis_url=tls_redis_url, smtp_url=smtp_sink.url)
    client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()
    assert client.get("/healthz").get_json()["redis"] == "ok"

    connection = connect_redis(tls_redis_url)
    job = enqueue_fibonacci_email(get_queue(connection, settings), settings, "ada@example.com", 3)
    worker = python_process(["-m", "worker", "--burst"], environment_for(settings), tmp_path / "worker.log")
    assert worker.wait(60) == 0, worker.output()
    worker.stop()
    assert Job.fetch(job.id, connection=connection, serializer=SERIALIZER).get_status() == "finished"
    assert len(smtp_sink.wait_for_messages(1)) == 1

    assert "1 queues" in run([sys.executable, "-m", "jobs.rq_cli", "info"], settings).stdout
    assert "1 queues" in run([rq_command(), "info", "--config", "jobs.rq_config", "--serializer", "json"], settings).stdout
    # From a laptop, without the project: the option in the URL.
    url_only = [rq_command(), "info", "--url", tls_redis_url + "?ssl_cert_reqs=none", "--serializer", "json"]
    assert "1 queues" in run(url_only, settings, REDIS_URL="redis://127.0.0.1:9/0").stdout
