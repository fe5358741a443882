"""rq-dashboard at /rq: off without credentials in the environment, behind
HTTP basic auth for everything under /rq when they are set, addresses masked
in every answer, and its actions refused to other sites. Checked through
rq-dashboard's own pages and JSON endpoints, with real workers and real jobs."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import urllib.request
from pathlib import Path

import pytest
import rq_dashboard
from flask import Flask
from rq.job import Job

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import environment_for, free_port, python_process, wait_for
from tests.support.procfile import start_process_type
from tests.support.slow_smtp import StallingSmtpSink
from tests.support.upstream import UpstreamBugStillThere
from web import create_app

USER, PASSWORD = "admin", "a-long-dashboard-password-0123456789"
ADDRESS, MASKED = "ada@example.com", "a***@example.com"


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


GOOD = basic(USER, PASSWORD)
SAME_ORIGIN = {**GOOD, "Sec-Fetch-Site": "same-origin"}


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
    return client.post("/api/sequences", json={"email": ADDRESS, "length": 5}).get_json()["job_id"]


def failed_job(settings, queue, tmp_path, reply: str | None = None) -> Job:
    """A job a real worker ran and failed for good: with ``reply``, the mail
    server refused the recipient with it; without, its length was refused."""
    sink = StallingSmtpSink().start()
    sink.rcpt_reply = reply
    settings = dataclasses.replace(settings, smtp_url=sink.url)
    job = enqueue_fibonacci_email(queue, settings, ADDRESS, 5 if reply else 0)
    worker = python_process(["-m", "worker", "--burst"], environment_for(settings), tmp_path / "worker.log")
    try:
        assert worker.wait(60) == 0, worker.output()
    finally:
        worker.stop()
        sink.stop()
    assert queue.failed_job_registry.get_job_ids() == [job.id]
    return job


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
        assert dashboard_client.post(path, headers={**headers, "Sec-Fetch-Site": "same-origin"}).status_code == 401, path
    assert dashboard_client.get("/api/jobs/" + job_id).get_json()["status"] == "queued"  # untouched


def test_with_the_credentials_it_lists_jobs_with_masked_descriptions(dashboard_client):
    job_id = enqueue(dashboard_client)
    for path in dashboard_paths(job_id):
        response = dashboard_client.get(path, headers=GOOD, follow_redirects=True)
        assert response.status_code == 200, path
        assert ADDRESS not in response.get_data(as_text=True), path
    queues = dashboard_client.get("/rq/0/data/queues.json", headers=GOOD).get_json()["queues"]
    assert [(queue["name"], queue["count"]) for queue in queues] == [("default", 1)]
    listed = dashboard_client.get("/rq/0/data/jobs/default/queued/8/asc/1.json", headers=GOOD).get_json()["jobs"]
    assert [(job["id"], job["description"]) for job in listed] == [(job_id, f"send_fibonacci_email(to={MASKED}, length=5)")]
    assert dashboard_client.get(f"/rq/0/data/job/{job_id}.json", headers=GOOD).get_json()["status"] == "queued"
    page = dashboard_client.get("/rq/", headers=GOOD)
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    # Static files pass unchanged (masking reads only pages and JSON).
    script = dashboard_client.get("/rq/static/js/jquery-3.5.1.min.js", headers=GOOD)
    assert script.data == (Path(rq_dashboard.__file__).parent / "static/js/jquery-3.5.1.min.js").read_bytes()


def test_a_busy_workers_call_string_is_masked(dashboard_settings, dashboard_client, tmp_path):
    """rq-dashboard's workers view shows the current job's call string, with
    its arguments: the recipient."""
    sink = StallingSmtpSink().start()
    sink.stall_seconds = 30
    settings = dataclasses.replace(dashboard_settings, smtp_url=sink.url, mail_timeout=60)
    job_id = enqueue(dashboard_client)
    worker = python_process(["-m", "worker"], environment_for(settings), tmp_path / "worker.log")
    try:
        assert sink.stalled.wait(30), worker.output()
        answer = dashboard_client.get("/rq/0/data/workers.json", headers=GOOD)
        [busy] = answer.get_json()["workers"]
        assert busy["current_job"]["job_id"] == job_id
        assert busy["current_job"]["description"] == f"send_fibonacci_email(to={MASKED}, length=5)"
        assert f"'{MASKED}'" in busy["current_job"]["call_string"]
        assert ADDRESS not in answer.get_data(as_text=True)
        assert dashboard_client.get(f"/rq/0/view/job/{job_id}", headers=GOOD).status_code == 200
    finally:
        worker.stop()
        sink.stop()


def test_a_mail_servers_reply_quoting_the_address_is_masked(dashboard_settings, dashboard_client, queue, redis_conn, tmp_path):
    job = failed_job(dashboard_settings, queue, tmp_path, reply=f"550 5.1.1 <{ADDRESS}>: Recipient address rejected: User unknown")
    # RQ stored the traceback with the server's words, address and all.
    assert ADDRESS in Job.fetch(job.id, connection=redis_conn).latest_result().exc_string

    for path in ["/rq/0/data/jobs/default/failed/8/asc/1.json", f"/rq/0/data/job/{job.id}.json"]:
        answer = dashboard_client.get(path, headers=GOOD)
        assert answer.status_code == 200, path
        assert ADDRESS not in answer.get_data(as_text=True), path
        shown = answer.get_json()
        exc_info = (shown["jobs"][0] if "jobs" in shown else shown)["exc_info"]
        assert f"<{MASKED}>: Recipient address rejected" in exc_info and "Traceback" in exc_info, path
    assert ADDRESS not in dashboard_client.get(f"/rq/0/view/job/{job.id}", headers=GOOD).get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},  # <img src> on another site, current browsers
        {"Sec-Fetch-Site": "same-site"},  # another app on a sibling subdomain
        {"Referer": "https://evil.example/page"},  # browsers without fetch metadata
        {},  # no referrer sent at all
    ],
    ids=str,
)
def test_a_cross_site_get_requeues_nothing(dashboard_settings, dashboard_client, queue, tmp_path, headers):
    """rq-dashboard's /rq/requeue/<queue> requeues every failed job on a plain GET."""
    job = failed_job(dashboard_settings, queue, tmp_path)
    refused = dashboard_client.get("/rq/requeue/default", headers={**GOOD, **headers})
    assert refused.status_code == 403
    assert queue.failed_job_registry.get_job_ids() == [job.id]
    assert queue.count == 0

    requeued = dashboard_client.get("/rq/requeue/default", headers={**GOOD, "Referer": "http://localhost/rq/0/view/jobs"})
    assert requeued.status_code == 200 and requeued.get_json() == {"status": "OK", "count": 1}
    assert queue.failed_job_registry.get_job_ids() == []
    assert queue.get_job_ids() == [job.id]


def test_its_posts_need_a_same_origin_request(dashboard_client, queue):
    enqueue(dashboard_client)
    for headers in [{}, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"}]:
        assert dashboard_client.post("/rq/queue/default/queued/empty", headers={**GOOD, **headers}).status_code == 403, headers
    assert queue.count == 1
    # Reading stays open to links from elsewhere; the answers are not readable cross-site.
    assert dashboard_client.get("/rq/0/view/jobs", headers={**GOOD, "Sec-Fetch-Site": "cross-site"}).status_code == 200
    emptied = dashboard_client.post("/rq/queue/default/queued/empty", headers=SAME_ORIGIN)
    assert emptied.status_code == 200 and emptied.get_json() == {"status": "OK"}
    assert queue.count == 0
    enqueue(dashboard_client)
    assert dashboard_client.post("/rq/queue/default/queued/empty", headers={**GOOD, "Origin": "http://localhost"}).status_code == 200
    assert queue.count == 0


def test_it_reads_heroku_redis_over_tls_with_a_self_signed_certificate(tls_redis_server, settings_with):
    settings = settings_with(
        redis_url=tls_redis_server.url, redis_verify_certificate=False, rq_dashboard_username=USER, rq_dashboard_password=PASSWORD
    )
    client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()
    job_id = enqueue(client)
    queues = client.get("/rq/0/data/queues.json", headers=GOOD).get_json()["queues"]
    assert [(queue["name"], queue["count"]) for queue in queues] == [("default", 1)]
    assert client.get(f"/rq/0/data/job/{job_id}.json", headers=GOOD).get_json()["status"] == "queued"


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


@pytest.mark.slow
def test_browsing_it_adds_no_connection_beyond_one_per_gunicorn_process(dashboard_settings, mini_redis, tmp_path):
    """heroku-redis:mini takes 20 connections, shared by every dyno: the dashboard uses the app's pool."""
    port, processes = free_port(), 2
    settings = dataclasses.replace(dashboard_settings, redis_url=mini_redis.url, redis_verify_certificate=False)
    env = environment_for(
        settings, PORT=str(port), WEB_CONCURRENCY=str(processes), RQ_DASHBOARD_USERNAME=USER, RQ_DASHBOARD_PASSWORD=PASSWORD
    )
    web = start_process_type("web", env, tmp_path / "web.log")
    base = f"http://127.0.0.1:{port}"
    counter = mini_redis.client()

    def get(path: str, headers: dict) -> bytes:
        return urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=5).read()

    def connections_but_ours() -> int:
        ours = counter.client_id()
        return len([client for client in counter.client_list() if int(client["id"]) != ours])

    try:
        wait_for(lambda: get("/healthz", {}), timeout=30, what="gunicorn")
        submission = json.dumps({"email": ADDRESS, "length": 5}).encode()
        request = urllib.request.Request(base + "/api/sequences", data=submission, headers={"Content-Type": "application/json"})
        job_id = json.load(urllib.request.urlopen(request, timeout=5))["job_id"]
        counts = []
        for _ in range(5):
            for path in dashboard_paths(job_id):
                get(path, GOOD)
                counts.append(connections_but_ours())
        assert max(counts) <= processes, counts
    finally:
        counter.close()
        web.stop()


@pytest.mark.upstream_bug("https://github.com/Parallels/rq-dashboard/pull/292", workaround="SharedRedisFlask in web/dashboard.py")
def test_rq_dashboard_still_builds_a_redis_client_per_request():
    """Once rq-dashboard reuses its client, web/dashboard.py's SharedRedisFlask can go."""
    plain = Flask(__name__)
    plain.config["RQ_DASHBOARD_REDIS_URL"] = ["redis://127.0.0.1:6379/0"]  # never connected to
    rq_dashboard.web.setup_rq_connection(plain)
    plain.register_blueprint(rq_dashboard.blueprint, url_prefix="/rq")
    built = []
    for _ in range(2):
        with plain.test_request_context("/rq/0/data/queues.json"):
            plain.preprocess_request()  # the blueprint's before_request hooks, as for a real request
            built.append(plain.redis_conn)
    if built[0] is not built[1]:
        raise UpstreamBugStillThere("rq-dashboard 0.9.0 builds a new Redis client on every request")


def test_its_views_read_redis_through_the_apps_client(dashboard_client):
    app = dashboard_client.application
    assert dashboard_client.get("/rq/0/data/queues.json", headers=GOOD).status_code == 200
    assert app.redis_conn is app.extensions["fibtastic"]["redis"]
