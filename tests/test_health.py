"""GET /healthz against a real Redis, a full one, and one that is not there: its status for anyone,
its figures only with the dashboard's credentials."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from rq import Worker

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import free_port
from web import create_app

USER, PASSWORD = "ops", "a-long-dashboard-password-0123456789"
FIGURES = {"queue_depth", "workers", "started", "scheduled", "failed"}


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def ops_client(settings_with, redis_conn):
    """The app with the dashboard's credentials set."""
    settings = settings_with(rq_dashboard_username=USER, rq_dashboard_password=PASSWORD)
    return create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()


def test_healthz_counts_the_queue_without_fetching_jobs(ops_client, queue, settings):
    first = enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    enqueue_fibonacci_email(queue, settings, "grace@example.com", 5)
    later = queue.enqueue_in(timedelta(hours=1), "jobs.tasks.send_fibonacci_email", "x@example.com", 1)
    queue.failed_job_registry.add(first, ttl=3600, exc_string="for the test")
    Worker([queue], connection=queue.connection, name="health-check-worker").register_birth()

    response = ops_client.get("/healthz", headers=basic(USER, PASSWORD))
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


@pytest.mark.parametrize(
    "headers", [{}, basic(USER, "wrong"), basic("someone", PASSWORD), {"Authorization": "Bearer " + PASSWORD}], ids=str
)
def test_without_the_dashboards_credentials_healthz_tells_status_not_traffic(ops_client, queue, settings, headers):
    """Queue depth and failed-job counts tell outsiders about your traffic."""
    enqueue_fibonacci_email(queue, settings, "ada@example.com", 5)
    response = ops_client.get("/healthz", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"redis": "ok", "queue": "default"}


def test_with_the_dashboard_off_no_credentials_show_the_figures(client):
    # Both credentials unset: an empty user name and password must not match them.
    response = client.get("/healthz", headers=basic("", ""))
    assert response.get_json() == {"redis": "ok", "queue": "default"}


def test_healthz_says_redis_is_full_with_503_and_ok_again_once_freed(settings_with, mini_redis):
    settings = settings_with(
        redis_url=mini_redis.url, redis_verify_certificate=False, rq_dashboard_username=USER, rq_dashboard_password=PASSWORD
    )
    client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()
    mini_redis.fill()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"redis": "full", "queue": "default"}
    # Reads still work: with the credentials, the figures too.
    figures = client.get("/healthz", headers=basic(USER, PASSWORD))
    assert figures.status_code == 503 and figures.get_json()["redis"] == "full" and set(figures.get_json()) >= FIGURES
    mini_redis.free()
    assert client.get("/healthz").get_json() == {"redis": "ok", "queue": "default"}


def test_asking_whether_redis_is_full_writes_nothing(client, redis_conn):
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert redis_conn.dbsize() == 0
