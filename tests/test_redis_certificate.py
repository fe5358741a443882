"""REDIS_VERIFY_CERTIFICATE against a TLS redis-server with a self-signed certificate, as Heroku Key-Value
Store serves it. Verification is on by default off Heroku: the certificate is refused, and the worker says
what to do. Off (Heroku's default), or on with a CA the certificate chains to in REDIS_URL, every client
connects: the web's queue and rate limits, the dashboard, the worker, RQ's ``rq``."""

from __future__ import annotations

import pytest
import redis
from rq.job import Job

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.core.settings import Settings, load_settings
from tests.support.processes import environment_for, python_process, wait_for
from tests.support.worker_log import waiting_for_redis_lines
from tests.test_dashboard import GOOD, PASSWORD, USER
from tests.test_rq_cli import rq
from tests.test_worker import run_worker_burst
from web import create_app


def test_only_a_rediss_url_with_verification_off_gets_the_option():
    def client_url(url: str, verify: bool) -> str:
        return redis_client_url(Settings(redis_url=url, redis_verify_certificate=verify))

    for url in ("redis://:pw@host:6379/0", "rediss://:pw@host:6380?ssl_cert_reqs=required"):
        assert client_url(url, verify=False) == url
    assert client_url("rediss://:pw@host:6380", verify=False) == "rediss://:pw@host:6380?ssl_cert_reqs=none"
    assert client_url("rediss://host:6380?db=1", verify=False) == "rediss://host:6380?db=1&ssl_cert_reqs=none"
    assert client_url("rediss://:pw@host:6380", verify=True) == "rediss://:pw@host:6380"


def test_with_verification_on_a_self_signed_certificate_is_refused_and_the_worker_says_what_to_do(
    tls_redis_server, settings_with, tmp_path
):
    settings = settings_with(redis_url=tls_redis_server.url)
    assert load_settings({"REDIS_URL": tls_redis_server.url}).redis_verify_certificate  # the default off Heroku
    with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
        connect_redis(redis_client_url(settings)).ping()
    client = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings}).test_client()
    assert client.post("/api/sequences", json={"email": "ada@example.com", "length": 5}).status_code == 503

    worker = python_process(["-m", "worker"], environment_for(settings), tmp_path / "worker.log")
    try:
        explained = lambda: [line for line in waiting_for_redis_lines(worker.output()) if "REDIS_VERIFY_CERTIFICATE=off" in line]  # noqa: E731
        [line, *_] = wait_for(explained, timeout=30, what="the worker to say why it cannot reach Redis")
    finally:
        worker.stop()
    assert "certificate verify failed" in line and "ssl_ca_certs=" in line and "Traceback" not in worker.output()


@pytest.mark.parametrize("how", ["off", "off-by-default-on-heroku", "on-with-its-ca-in-the-url"])
def test_every_client_connects_with_verification_off_or_with_the_ca(tls_redis_server, settings_with, smtp_sink, tmp_path, how):
    environ = {
        "off": {"REDIS_URL": tls_redis_server.url, "REDIS_VERIFY_CERTIFICATE": "off"},
        "off-by-default-on-heroku": {"REDIS_URL": tls_redis_server.url, "DYNO": "web.1"},
        "on-with-its-ca-in-the-url": {"REDIS_URL": f"{tls_redis_server.url}?ssl_ca_certs={tls_redis_server.certificate}"},
    }[how]
    loaded = load_settings(environ)
    assert loaded.redis_verify_certificate == (how == "on-with-its-ca-in-the-url")
    settings = settings_with(
        redis_url=loaded.redis_url,
        redis_verify_certificate=loaded.redis_verify_certificate,
        smtp_url=smtp_sink.url,
        rq_dashboard_username=USER,
        rq_dashboard_password=PASSWORD,
    )
    client = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings}).test_client()
    answer = client.post("/api/sequences", json={"email": "ada@example.com", "length": 5})  # the queue, and both rate limits
    assert answer.status_code == 202, answer.get_data(as_text=True)
    queues = client.get("/rq/0/data/queues.json", headers=GOOD).get_json()["queues"]
    assert [(queue["name"], queue["count"]) for queue in queues] == [("default", 1)]

    run_worker_burst(settings, tmp_path)
    job = Job.fetch(answer.get_json()["job_id"], connection=connect_redis(redis_client_url(settings)))
    assert job.get_status() == "finished" and len(smtp_sink.wait_for_messages(1)) == 1
    # RQ's own command, given the URL as the README says (?ssl_cert_reqs=none where verification is off).
    assert "default" in rq(["info"], redis_client_url(settings), settings).stdout
    assert get_queue(connect_redis(redis_client_url(settings)), settings).count == 0
