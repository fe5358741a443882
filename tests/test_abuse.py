"""Rate limits, the one trusted proxy hop, HTTPS on Heroku, and what happens
when the limiter's storage (Redis) is down. Flask's test client, real Redis;
gunicorn for requests that arrive at once."""

from __future__ import annotations

import http.client
import json
import logging
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs.core.logging_setup import LogfmtFormatter
from jobs.core.settings import ConfigurationError
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer
from web import create_app, rate_limits


def make_app(settings):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings})


def make_client(settings):
    return make_app(settings).test_client()


def submit_api(client, email="ada@example.com", length=5, **headers):
    return client.post("/api/sequences", json={"email": email, "length": length}, headers=headers)


def submit_form(client, email="ada@example.com", length="5", **headers):
    return client.post("/sequences", data={"email": email, "length": length}, headers=headers)


def test_per_ip_limit_counts_form_and_api_together_and_answers_429(settings_with, redis_conn, queue):
    client = make_client(settings_with(rate_limit_per_ip="3 per minute"))
    assert submit_api(client, "a@example.com").status_code == 202
    assert submit_form(client, "b@example.com").status_code == 303
    assert submit_api(client, "c@example.com").status_code == 202

    refused = submit_api(client, "d@example.com")
    assert refused.status_code == 429
    assert refused.get_json() == {"errors": {"request": "Too many requests. Please wait a little and try again."}}
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # the one-minute window, rounded up
    page = submit_form(client, "e@example.com")
    assert page.status_code == 429
    assert "Too many requests" in page.get_data(as_text=True) and page.headers["Retry-After"]
    assert queue.count == 3
    # Reading is not limited: the status page polls.
    assert client.get("/").status_code == 200


def test_per_ip_limit_counts_invalid_attempts_too(settings_with, redis_conn, queue):
    client = make_client(settings_with(rate_limit_per_ip="2 per minute"))
    assert submit_api(client, "not-an-address").status_code == 422
    assert submit_api(client, length=0).status_code == 422
    assert submit_api(client).status_code == 429
    assert queue.count == 0


def test_per_recipient_limit_counts_accepted_submissions_whatever_the_spelling(settings_with, redis_conn, queue):
    client = make_client(settings_with(rate_limit_per_recipient="2 per hour"))
    assert submit_api(client, length=0).status_code == 422  # refused: does not count
    assert submit_api(client, "ada@example.com").status_code == 202
    assert submit_form(client, " Ada@Example.COM ").status_code == 303
    refused = submit_api(client, "ADA@example.com")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert submit_form(client, "ada@example.com").status_code == 429
    assert submit_api(client, "grace@example.com").status_code == 202
    assert queue.count == 3
    # The limiter's keys carry a hash, not the address.
    assert not [key for key in redis_conn.keys("*") if b"example.com" in key.lower()]


def test_refused_submissions_do_not_use_the_recipients_allowance(settings_with, redis_conn, queue):
    app = make_app(settings_with(rate_limit_per_recipient="2 per hour"))

    @app.post("/unavailable")
    @rate_limits.per_recipient("email")
    def unavailable():
        # Redis went away after the recipient's slot was taken: the enqueue fails, the answer is 503.
        raise RedisConnectionError("Connection refused")

    client = app.test_client()
    for _ in range(3):
        assert submit_api(client, length=0).status_code == 422
        assert submit_form(client, length="lots").status_code == 422
        assert submit_api(client, Idempotency_Key="k" * 256).status_code == 400
        assert client.post("/api/sequences", data='{"email": "ada@example.com"}', content_type="text/plain").status_code == 415
        assert client.post("/unavailable", json={"email": "ada@example.com"}).status_code == 503
    assert submit_api(client).status_code == 202
    assert submit_form(client).status_code == 303
    assert submit_api(client).status_code == 429
    assert queue.count == 2


def test_a_repeated_idempotency_key_gets_its_job_without_using_another_slot(settings_with, redis_conn, queue):
    client = make_client(settings_with(rate_limit_per_recipient="2 per hour"))
    first = submit_api(client, Idempotency_Key="order-1")
    assert first.status_code == 202
    for _ in range(3):
        repeat = submit_api(client, Idempotency_Key="order-1")
        assert (repeat.status_code, repeat.get_json()) == (202, first.get_json())
    assert submit_api(client, Idempotency_Key="order-2").status_code == 202
    assert submit_api(client, Idempotency_Key="order-3").status_code == 429
    assert queue.count == 2


# Five an hour; and the same bound second of two limits, so requests refused by it hold a slot of the first.
@pytest.mark.parametrize("limit", ["5 per hour", "10 per minute;5 per hour"])
def test_submissions_arriving_at_once_for_one_recipient_accept_exactly_the_limit(start_web, settings_with, redis_conn, queue, limit):
    # As on Heroku: several processes (dynos x WEB_CONCURRENCY) answer at once.
    address = start_web(settings_with(rate_limit_per_recipient=limit), WEB_CONCURRENCY="8").removeprefix("http://")
    submissions, rounds = 30, 10

    def submit(email, start):
        # Connected first, so the requests reach gunicorn's processes together.
        connection = http.client.HTTPConnection(address, timeout=20)
        connection.connect()
        start.wait(timeout=10)
        connection.request("POST", "/api/sequences", json.dumps({"email": email, "length": 5}), {"Content-Type": "application/json"})
        response = connection.getresponse()
        connection.close()
        return response.status, response.getheader("Retry-After")

    with ThreadPoolExecutor(submissions) as pool:
        for round_number in range(rounds):
            start = threading.Barrier(submissions)
            email = f"ada{round_number}@example.com"
            answers = list(pool.map(lambda _, email=email, start=start: submit(email, start), range(submissions)))
            assert Counter(status for status, _ in answers) == {202: 5, 429: 25}, f"round {round_number}"
            # Until the window that refused it ends (with two limits, the minute's may refuse too).
            assert all(1 <= int(retry_after) <= 3601 for status, retry_after in answers if status == 429)
    assert queue.count == 5 * rounds


def test_limits_apply_where_an_endpoint_declares_them(settings_with, redis_conn):
    app = make_app(settings_with(rate_limit_per_recipient="1 per hour"))

    @app.post("/notify")
    @rate_limits.per_recipient("to")
    def notify():
        return "", 202

    @app.post("/ping")
    @rate_limits.per_client_ip
    def ping():
        return "", 202

    client = app.test_client()
    assert client.post("/notify", json={"to": "ada@example.com"}).status_code == 202
    assert client.post("/notify", json={"to": "ADA@example.com"}).status_code == 429
    assert client.post("/notify", json={"to": "grace@example.com"}).status_code == 202
    # One allowance per recipient, whichever endpoint sends.
    assert submit_api(app.test_client(), "grace@example.com").status_code == 429
    # No recipient limit where none is declared: callers do not share one bucket.
    assert [client.post("/ping", json={}).status_code for _ in range(3)] == [202, 202, 202]


def heroku_settings(settings_with, **changes):
    return settings_with(on_heroku=True, smtp_url_is_explicit=True, **changes)


def test_on_heroku_a_spoofed_forwarded_for_entry_does_not_dodge_the_limit(settings_with, redis_conn, queue):
    client = make_client(heroku_settings(settings_with, rate_limit_per_ip="2 per minute"))
    # Heroku's router appends the address it saw; a client can only add
    # entries to the left of it.
    for spoof in ("1.1.1.1", "2.2.2.2"):
        response = submit_api(client, f"{spoof}@example.com", X_Forwarded_For=f"{spoof}, 203.0.113.7", X_Forwarded_Proto="https")
        assert response.status_code == 202
    dodge = submit_api(client, "dodge@example.com", X_Forwarded_For="3.3.3.3, 203.0.113.7", X_Forwarded_Proto="https")
    assert dodge.status_code == 429
    # Another client (another address appended by the router) is not affected.
    other = submit_api(client, "other@example.com", X_Forwarded_For="203.0.113.8", X_Forwarded_Proto="https")
    assert other.status_code == 202


def test_off_heroku_forwarded_for_is_not_trusted_at_all(settings_with, redis_conn, queue):
    client = make_client(settings_with(rate_limit_per_ip="1 per minute"))
    assert submit_api(client, "a@example.com", X_Forwarded_For="203.0.113.7").status_code == 202
    assert submit_api(client, "b@example.com", X_Forwarded_For="203.0.113.8").status_code == 429


def test_on_heroku_plain_http_is_redirected_and_https_gets_hsts(settings_with, redis_conn, queue):
    client = make_client(heroku_settings(settings_with))
    page = client.get("/?x=1", headers={"X-Forwarded-Proto": "http"})
    assert page.status_code == 301
    assert page.headers["Location"] == "https://localhost/?x=1"
    post = submit_api(client, X_Forwarded_Proto="http")
    assert post.status_code == 308 and post.headers["Location"] == "https://localhost/api/sequences"
    assert queue.count == 0
    secure = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "frame-ancestors 'none'" in secure.headers["Content-Security-Policy"]


def test_off_heroku_there_is_no_redirect_and_no_hsts(client):
    response = client.get("/", headers={"X-Forwarded-Proto": "http"})
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_limiter_storage_down_is_a_503_not_a_500(settings_with):
    client = make_client(settings_with(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    api = submit_api(client)
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert api.get_json() == {"errors": {"service": "We cannot take new requests right now. Please try again in a few seconds."}}
    page = submit_form(client)
    assert page.status_code == 503 and "Traceback" not in page.get_data(as_text=True)


@pytest.mark.parametrize("field", ["rate_limit_per_ip", "rate_limit_per_recipient"])
def test_a_malformed_rate_is_a_clear_configuration_error(settings_with, redis_conn, field):
    with pytest.raises(ConfigurationError, match=field.upper()):
        make_client(settings_with(**{field: "lots"}))


def test_a_limiter_failure_never_turns_an_accepted_submission_into_an_error(settings_with, redis_conn, queue):
    # A Redis user that may touch RQ's keys but not the limiter's: every
    # limiter call fails, the enqueue works. The limits are not enforced then,
    # rather than refusing everything while Redis itself answers.
    redis_conn.acl_setuser("rq-only", enabled=True, passwords=["+rq-only-pw"], keys=["rq:*"], commands=["+@all"])
    try:
        server = redis_conn.connection_pool.connection_kwargs  # the test's own database too (one per xdist worker)
        client = make_client(settings_with(redis_url=f"redis://rq-only:rq-only-pw@{server['host']}:{server['port']}/{server['db']}"))
        answer = submit_api(client)
        assert answer.status_code == 202, answer.get_data(as_text=True)
        assert queue.job_ids == [answer.get_json()["job_id"]]
        assert not [key for key in redis_conn.keys("fibtastic-limits*")]
    finally:
        redis_conn.acl_deluser("rq-only")


@pytest.mark.parametrize("status", [202, 422])
def test_a_slot_that_cannot_be_given_back_leaves_the_answer_as_it_was(settings_with, caplog, status):
    server = RedisServer().start()
    try:
        app = make_app(settings_with(redis_url=server.url))

        @app.post("/notify")
        @rate_limits.per_recipient("to")
        def notify():
            # The slot is taken; then Redis goes away, and giving it back fails.
            # The answer stands: after an enqueue, an error would make the
            # client retry and get a second email.
            server.stop()
            if status == 202:
                rate_limits.give_back_recipient_slot()  # a repeat of an accepted Idempotency-Key
            return "", status

        assert app.test_client().post("/notify", json={"to": "ada@example.com"}).status_code == status
        assert "could not give back a recipient's rate limit slot" in caplog.text
    finally:
        server.stop()


def test_a_redis_outage_is_logged_as_one_line_without_a_traceback():
    try:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    except RedisConnectionError:
        record = logging.LogRecord("flask-limiter", logging.ERROR, __file__, 1, "Failed to rate limit", None, sys.exc_info())
    line = LogfmtFormatter().format(record)
    assert line.endswith('error="ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused."')
    assert "Traceback" not in line
