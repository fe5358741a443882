"""GET /healthz against a real Redis, and against one that is not there."""

from __future__ import annotations

from datetime import timedelta

from rq import Worker

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import free_port
from web import create_app


def test_healthz_counts_the_queue_without_fetching_jobs(client, queue, settings):
    first = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    enqueue_fibonacci_email(queue, settings, "grace@example.com", 5)
    later = queue.enqueue_in(timedelta(hours=1), "jobs.tasks.send_fibonacci_email", "x@example.com", 1)
    queue.failed_job_registry.add(first, ttl=3600, exc_string="for the test")
    Worker([queue], connection=queue.connection, name="health-check-worker").register_birth()

    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "redis": "ok",
        "queue": "default",
        "queue_depth": 2,
        "workers": 1,
        "started": 0,
        "scheduled": 1,
        "failed": 1,
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert later.id in queue.scheduled_job_registry.get_job_ids()


def test_healthz_answers_503_when_redis_is_down(settings_with):
    app = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings_with(redis_url=f"redis://127.0.0.1:{free_port()}/0")})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"redis": "unreachable", "queue": "default"}


def test_healthz_needs_no_csrf_token_and_shows_no_secrets(settings, redis_conn):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": True, "FIBTASTIC_SETTINGS": settings})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert settings.secret_key not in body and "redis://" not in body
