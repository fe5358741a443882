"""A full Redis (heroku-redis:mini's 25 MB reached, noeviction: every write refused with OOM) is an outage
like any other: submissions answer 503 with Retry-After, enqueue nothing, and use up no allowance. Flask's
test client, and gunicorn from the Procfile, against a Redis served as app.json provisions it
(tests/conftest.py mini_redis)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request

import pytest
import redis

from tests.support.processes import environment_for, free_port, wait_for
from tests.support.procfile import start_process_type
from tests.support.sentry_stub import SentryStub
from web import create_app

UNAVAILABLE = "We cannot take new requests right now. Please try again in a few seconds."


@pytest.fixture
def full_settings(settings_with, mini_redis):
    # Its certificate is self-signed, as Heroku's: verification off, as on Heroku.
    return settings_with(redis_url=mini_redis.url, redis_verify_certificate=False)


def make_client(settings):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings}).test_client()


def submit_api(client, email="ada@example.com", **headers):
    return client.post("/api/sequences", json={"email": email, "length": 5}, headers=headers)


def submit_form(client, email="ada@example.com"):
    return client.post("/sequences", data={"email": email, "length": "5"})


def rq_keys(server) -> list[bytes]:
    with server.client() as client:
        return client.keys("rq:*")


@pytest.mark.parametrize(
    "submit",
    [submit_api, lambda client: submit_api(client, **{"Idempotency-Key": "order-42"})],
    ids=["api", "api with Idempotency-Key"],
)
def test_the_api_answers_503_with_retry_after_and_enqueues_nothing(full_settings, mini_redis, submit):
    client = make_client(full_settings)
    mini_redis.fill()
    answer = submit(client)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_json() == {"errors": {"service": UNAVAILABLE}}
    assert rq_keys(mini_redis) == []


def test_the_form_answers_a_503_page_with_retry_after_and_enqueues_nothing(full_settings, mini_redis):
    client = make_client(full_settings)
    mini_redis.fill()
    page = submit_form(client)
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    html = page.get_data(as_text=True)
    assert "Please try again in a few seconds" in html and "Traceback" not in html
    assert rq_keys(mini_redis) == []


def test_a_refused_submission_uses_up_no_allowance_and_freed_redis_accepts_again(settings_with, mini_redis):
    client = make_client(settings_with(redis_url=mini_redis.url, redis_verify_certificate=False, rate_limit_per_recipient="1 per hour"))
    mini_redis.fill()
    assert [submit_api(client).status_code for _ in range(3)] == [503, 503, 503]
    assert submit_form(client).status_code == 503
    mini_redis.free()
    # The one submission this recipient may make an hour is still there, and then spent.
    assert submit_api(client).status_code == 202
    assert submit_api(client).status_code == 429


def test_each_refused_submission_logs_one_line_without_a_traceback(full_settings, mini_redis, caplog):
    client = make_client(full_settings)
    mini_redis.fill()
    with caplog.at_level(logging.INFO):
        assert submit_api(client).status_code == 503
    # The per-IP limit meets the full Redis first (flask-limiter swallows it, web/rate_limits.py):
    # the enqueue's 503 says it once.
    [line] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert line.name == "web.errors" and line.levelno == logging.WARNING and line.exc_info is None
    assert "redis is full" in line.getMessage()


def exec_aborted(server, before_exec=lambda: None, command=("SADD", "rq:queues", "rq:queue:default")):
    """A real MULTI/EXEC against ``server``: ``command`` queued, then ``before_exec()``, then EXEC."""
    with server.client() as client:
        connection = client.connection_pool.get_connection()
        try:
            connection.send_command("MULTI")
            connection.read_response()
            connection.send_command(*command)
            with contextlib.suppress(redis.exceptions.ResponseError):  # QUEUED, or the error that aborts the EXEC
                connection.read_response()
            before_exec()
            connection.send_command("EXEC")
            connection.read_response()
        finally:
            client.connection_pool.release(connection)


def test_a_transaction_aborted_because_redis_filled_up_meanwhile_answers_503(full_settings, mini_redis):
    """RQ's enqueue is a MULTI/EXEC: Redis that fills up between the queueing and the EXEC aborts it
    with EXECABORT, quoting the OOM."""
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": full_settings})
    app.add_url_rule("/api/test-only/fills-up", view_func=lambda: exec_aborted(mini_redis, before_exec=mini_redis.fill), methods=["POST"])
    answer = app.test_client().post("/api/test-only/fills-up")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json() == {"errors": {"service": UNAVAILABLE}}
    assert rq_keys(mini_redis) == []


def test_a_transaction_aborted_for_another_reason_is_a_bug_not_a_full_redis(full_settings, mini_redis):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": full_settings})
    app.add_url_rule("/api/test-only/bad-command", view_func=lambda: exec_aborted(mini_redis, command=("NOSUCHCOMMAND",)), methods=["POST"])
    with pytest.raises(redis.exceptions.ExecAbortError, match="previous errors"):  # TESTING: Flask raises what would be a 500
        app.test_client().post("/api/test-only/bad-command")


def test_an_outage_too_logs_one_line_per_refused_submission(settings_with, caplog):
    client = make_client(settings_with(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    with caplog.at_level(logging.INFO):
        assert submit_api(client).status_code == 503
    [line] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert line.name == "web.errors" and "redis unavailable" in line.getMessage()


def post_json(base: str, payload: dict) -> tuple[int, str | None]:
    request = urllib.request.Request(
        base + "/api/sequences", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.headers["Retry-After"]
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Retry-After"]


@pytest.mark.slow
def test_under_gunicorn_redis_filling_up_and_freed_meets_202s_and_503s_never_a_500(settings_with, mini_redis, tmp_path):
    sentry = SentryStub().start()
    port = free_port()
    settings = settings_with(redis_url=mini_redis.url, redis_verify_certificate=False)
    env = environment_for(settings, PORT=str(port), WEB_CONCURRENCY="2", SENTRY_DSN=sentry.dsn)
    web = start_process_type("web", env, tmp_path / "web.log")
    base = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def submit_until_stopped():
        while not stop.is_set():
            answers.append(post_json(base, {"email": f"user{len(answers)}@example.com", "length": 3}))

    def statuses(since: int = 0) -> list[int]:
        return [status for status, _ in answers[since:]]

    submitter = threading.Thread(target=submit_until_stopped)
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/healthz", timeout=1).status == 200, timeout=30, what="gunicorn")
        submitter.start()
        wait_for(lambda: statuses().count(202) >= 5, timeout=30, what="submissions to be accepted")
        mini_redis.fill()
        filled = len(answers)
        wait_for(lambda: len(statuses(filled)) - statuses(filled).count(202) >= 20, timeout=30, what="submissions to be refused")
        with pytest.raises(urllib.error.HTTPError) as health:
            urllib.request.urlopen(base + "/healthz", timeout=5)
        assert health.value.code == 503 and json.load(health.value) == {"redis": "full", "queue": "default"}
        mini_redis.free()
        freed = len(answers)
        wait_for(lambda: statuses(freed).count(202) >= 5, timeout=30, what="submissions to be accepted again")
    finally:
        stop.set()
        if submitter.is_alive():
            submitter.join(10)
        web.stop()  # sentry-sdk sends what it holds as the workers exit
        sentry.stop()

    assert set(statuses()) <= {202, 503}, sorted(set(statuses()))
    assert all(retry_after == "5" for status, retry_after in answers if status == 503)
    # Nothing half-written: a job for each 202, none for a 503.
    with mini_redis.client() as client:
        assert len(client.keys("rq:job:*")) == statuses().count(202)
    # One line for each refused submission, no traceback, and nothing for Sentry: an outage is not a bug.
    output = web.output()
    assert output.count("redis is full") == statuses().count(503)
    assert "Traceback" not in output and "at=error" not in output
    assert sentry.events == []
