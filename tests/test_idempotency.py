"""One job per Idempotency-Key, however many requests carry it at once."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobs.tasks import enqueue_fibonacci_email
from web import idempotency

ROUNDS = 25
REQUESTS_PER_ROUND = 8
PAYLOAD = {"email": "ada@example.com", "length": 10}


@pytest.fixture
def gunicorn(start_web, settings, redis_conn):
    return start_web(settings, WEB_CONCURRENCY="4")


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
            # Every request is answered with the one job, none has to retry.
            assert {status for status, _, _ in answers} == {202}, answers
            job_ids = {body["job_id"] for _, _, body in answers}
            assert len(job_ids) == 1, answers
            # A later repeat: the same job.
            status, _, body = post(gunicorn, key)
            assert (status, body["job_id"]) == (202, job_ids.pop())

    queued = Counter(job_id.decode() for job_id in redis_conn.lrange(queue.key, 0, -1))
    # One job per key, queued once: no id pushed twice by two requests.
    assert {job_id: times for job_id, times in queued.items() if times > 1} == {}
    assert len(queued) == ROUNDS


def test_a_request_that_loses_the_race_answers_with_the_winners_job(client, queue, settings):
    job_id = idempotency.job_id_for("order-17", PAYLOAD["email"])
    created = []

    def enqueue_after_another_request(**options):
        # Another request with the same key stores its job between this
        # request's look and its enqueue.
        created.append(enqueue_fibonacci_email(queue, settings, PAYLOAD["email"], PAYLOAD["length"], job_id=job_id))
        return enqueue_fibonacci_email(queue, settings, PAYLOAD["email"], PAYLOAD["length"], **options)

    with client.application.test_request_context():
        job, new = idempotency.enqueue_once(job_id, enqueue_after_another_request)
    assert not new
    assert job.id == created[0].id == job_id
    assert queue.job_ids == [job_id]
