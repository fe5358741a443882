"""One job per Idempotency-Key, however many requests carry it at once."""

from __future__ import annotations

import json
import runpy
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import PROJECT_ROOT, environment_for, free_port, wait_for
from tests.support.procfile import start_process_type
from web import idempotency

ROUNDS = 25
REQUESTS_PER_ROUND = 8
PAYLOAD = {"email": "ada@example.com", "length": 10}


@pytest.fixture
def gunicorn(settings, redis_conn, tmp_path):
    """The Procfile's web process alone: jobs stay in the queue, where they can be counted."""
    port = free_port()
    web = start_process_type("web", environment_for(settings, PORT=str(port), WEB_CONCURRENCY="4"), tmp_path / "web.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/healthz", timeout=1).status == 200, timeout=30, what="gunicorn")
        yield base
    finally:
        web.stop()


def post(base: str, key: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        base + "/api/sequences",
        data=json.dumps(PAYLOAD).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def test_concurrent_requests_with_one_key_create_one_job(gunicorn, redis_conn, queue):
    with ThreadPoolExecutor(REQUESTS_PER_ROUND) as pool:
        for round_number in range(ROUNDS):
            key = f"order-{round_number}"
            start = threading.Barrier(REQUESTS_PER_ROUND)

            def send(_, key=key, start=start):
                start.wait(timeout=10)
                return post(gunicorn, key)

            answers = list(pool.map(send, range(REQUESTS_PER_ROUND)))
            assert {status for status, _, _ in answers} <= {202, 409}, answers
            job_ids = {body["job_id"] for status, _, body in answers if status == 202}
            assert len(job_ids) == 1, answers
            for status, headers, body in answers:
                if status == 409:
                    assert headers["Retry-After"] == "1"
                    assert body == {"errors": {"idempotency_key": idempotency.KeyInUse.description}}
            # A later repeat, as after a 409: the same job.
            status, _, body = post(gunicorn, key)
            assert (status, body["job_id"]) == (202, job_ids.pop())

    queued = Counter(job_id.decode() for job_id in redis_conn.lrange(queue.key, 0, -1))
    # One job per key, queued once: no id pushed twice by two requests.
    assert {job_id: times for job_id, times in queued.items() if times > 1} == {}
    assert len(queued) == ROUNDS


def test_a_request_that_finds_the_key_claimed_but_no_job_gets_409(client, redis_conn, queue, settings):
    job_id = idempotency.job_id_for("order-17", PAYLOAD["email"])
    # Another request has claimed the key and not stored its job yet.
    redis_conn.set(idempotency.claim_key(job_id), job_id)

    response = client.post("/api/sequences", json=PAYLOAD, headers={"Idempotency-Key": "order-17"})
    assert response.status_code == 409
    assert response.headers["Retry-After"] == str(idempotency.RETRY_AFTER_SECONDS)
    assert response.get_json() == {"errors": {"idempotency_key": idempotency.KeyInUse.description}}
    assert queue.count == 0

    # That request stores its job; the retry gets it.
    created = enqueue_fibonacci_email(queue, settings, PAYLOAD["email"], PAYLOAD["length"], job_id=job_id)
    again = client.post("/api/sequences", json=PAYLOAD, headers={"Idempotency-Key": "order-17"})
    assert again.status_code == 202 and again.get_json()["job_id"] == created.id
    assert queue.count == 1


def test_the_claim_lapses_so_a_request_that_died_frees_the_key(client, redis_conn):
    response = client.post("/api/sequences", json=PAYLOAD, headers={"Idempotency-Key": "order-17"})
    assert response.status_code == 202
    claim = idempotency.claim_key(response.get_json()["job_id"])
    assert 0 < redis_conn.ttl(claim) <= idempotency.CLAIM_SECONDS


def test_the_claim_outlives_any_request_that_holds_it():
    # gunicorn kills a worker whose request takes longer than its timeout; a
    # claim that lapsed sooner would let a second request create the job again.
    config = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    assert config["timeout"] < idempotency.CLAIM_SECONDS
