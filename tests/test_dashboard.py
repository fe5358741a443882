"""rq-dashboard at /rq: off without credentials in the environment, and
behind HTTP basic auth for everything under /rq when they are set."""

from __future__ import annotations

import base64
import dataclasses
import logging

import pytest
import redis

from tests.support.processes import environment_for, python_process
from tests.support.slow_smtp import StallingSmtpSink
from web import create_app
from web.dashboard import dashboard_redis_url

USER, PASSWORD = "admin", "a-long-dashboard-password-0123456789"


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


GOOD = basic(USER, PASSWORD)


@pytest.fixture
def dashboard_settings(settings_with):
    return settings_with(rq_dashboard_username=USER, rq_dashboard_password=PASSWORD)


@pytest.fixture
def dashboard_client(dashboard_settings, redis_conn):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": dashboard_settings}).test_client()


def dashboard_paths(job_id: str) -> list[str]:
    return [
        "/rq",
        "/rq/",
        "/rq/0/view/queues",
        "/rq/0/view/workers",
        "/rq/0/view/jobs",
        f"/rq/0/view/job/{job_id}",
        "/rq/0/data/queues.json",
        "/rq/0/data/workers.json",
        "/rq/0/data/jobs/default/queued/8/asc/1.json",
        f"/rq/0/data/job/{job_id}.json",
        "/rq/static/js/jquery-3.5.1.min.js",
    ]


def enqueue(client) -> str:
    return client.post("/api/sequences", json={"email": "ada@example.com", "length": 5}).get_json()["job_id"]


def test_without_credentials_in_the_environment_the_dashboard_does_not_exist(client):
    job_id = enqueue(client)
    for path in dashboard_paths(job_id):
        assert client.get(path, headers=GOOD).status_code == 404, path


@pytest.mark.parametrize(
    "headers", [{}, basic(USER, "wrong"), basic("someone", PASSWORD), {"Authorization": "Bearer " + PASSWORD}], ids=str
)
def test_nothing_under_rq_is_reachable_without_the_credentials(dashboard_client, headers):
    job_id = enqueue(dashboard_client)
    for path in dashboard_paths(job_id):
        response = dashboard_client.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        body = response.get_data(as_text=True)
        assert job_id not in body and "example.com" not in body
    for path in [f"/rq/job/{job_id}/requeue", f"/rq/job/{job_id}/delete", "/rq/requeue/default", "/rq/queue/default/queued/empty"]:
        assert dashboard_client.post(path, headers=headers).status_code == 401, path
    assert dashboard_client.get("/api/jobs/" + job_id).get_json()["status"] == "queued"  # untouched


def test_with_the_credentials_it_lists_jobs_with_masked_descriptions(dashboard_client):
    job_id = enqueue(dashboard_client)
    for path in dashboard_paths(job_id):
        response = dashboard_client.get(path, headers=GOOD, follow_redirects=True)
        assert response.status_code == 200, path
    queues = dashboard_client.get("/rq/0/data/queues.json", headers=GOOD).get_json()["queues"]
    assert [(queue["name"], queue["count"]) for queue in queues] == [("default", 1)]
    listed = dashboard_client.get("/rq/0/data/jobs/default/queued/8/asc/1.json", headers=GOOD).get_json()["jobs"]
    assert [(job["id"], job["description"]) for job in listed] == [(job_id, "send_fibonacci_email(to=a***@example.com, length=5)")]
    detail = dashboard_client.get(f"/rq/0/data/job/{job_id}.json", headers=GOOD)
    assert detail.get_json()["status"] == "queued"
    assert "ada@example.com" not in detail.get_data(as_text=True)
    page = dashboard_client.get("/rq/", headers=GOOD)
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_its_actions_need_a_same_origin_request(dashboard_client, queue):
    job_id = enqueue(dashboard_client)
    # A page elsewhere could make the browser resend cached basic-auth credentials.
    assert dashboard_client.post("/rq/queue/default/queued/empty", headers=GOOD).status_code == 403
    assert dashboard_client.post("/rq/queue/default/queued/empty", headers={**GOOD, "Origin": "https://evil.example"}).status_code == 403
    assert queue.count == 1
    emptied = dashboard_client.post("/rq/queue/default/queued/empty", headers={**GOOD, "Origin": "http://localhost"})
    assert emptied.status_code == 200 and emptied.get_json() == {"status": "OK"}
    assert queue.count == 0 and job_id


def test_it_reads_a_busy_worker_and_its_json_job(dashboard_settings, dashboard_client, tmp_path):
    """rq-dashboard 0.9.0 reads a worker's current job with RQ's default
    (pickle) serializer; web/dashboard.py makes it use JSON."""
    sink = StallingSmtpSink().start()
    sink.stall_seconds = 30
    settings = dataclasses.replace(dashboard_settings, smtp_url=sink.url, mail_timeout=60)
    job_id = enqueue(dashboard_client)
    worker = python_process(["-m", "worker"], environment_for(settings), tmp_path / "worker.log")
    try:
        assert sink.stalled.wait(30), worker.output()
        [busy] = dashboard_client.get("/rq/0/data/workers.json", headers=GOOD).get_json()["workers"]
        assert busy["current_job"]["job_id"] == job_id
        assert busy["current_job"]["description"] == "send_fibonacci_email(to=a***@example.com, length=5)"
        assert dashboard_client.get(f"/rq/0/view/job/{job_id}", headers=GOOD).status_code == 200
    finally:
        worker.stop()
        sink.stop()


def test_it_connects_to_heroku_redis_without_certificate_verification():
    url = dashboard_redis_url("rediss://:secret@redis.example:6380/0")
    assert url == "rediss://:secret@redis.example:6380/0?ssl_cert_reqs=none"
    client = redis.Redis.from_url(url)
    assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
    assert dashboard_redis_url("redis://localhost:6379") == "redis://localhost:6379"


@pytest.mark.parametrize(
    ("given", "missing"),
    [({"rq_dashboard_password": PASSWORD}, "RQ_DASHBOARD_USERNAME"), ({"rq_dashboard_username": USER}, "RQ_DASHBOARD_PASSWORD")],
)
def test_half_the_credentials_boots_with_the_dashboard_off_and_says_what_to_set(settings_with, redis_conn, caplog, given, missing):
    # The Deploy button generates RQ_DASHBOARD_PASSWORD and leaves the optional
    # user name empty: that app must boot (app.json).
    with caplog.at_level(logging.INFO, logger="web.dashboard"):
        client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings_with(**given)}).test_client()
    assert client.get("/rq", headers=GOOD).status_code == 404
    assert client.get("/").status_code == 200
    [line] = [record.getMessage() for record in caplog.records if record.name == "web.dashboard"]
    assert f"set {missing} too" in line
    assert PASSWORD not in line
