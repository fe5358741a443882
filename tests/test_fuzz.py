"""Property-based tests (hypothesis): whatever arrives at the API or the form,
the answer is never a 5xx, and a job is enqueued exactly when the input is
valid. Real Redis; the queue is checked after every example."""

from __future__ import annotations

import json

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web import create_app

# JSON of every shape, including the keys the API looks for.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
emails = st.emails() | st.text(max_size=300) | st.sampled_from(["ada@example.com", "ada@example", "@example.com", "a" * 250 + "@x.io"])
lengths = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([0, 1, 1000, 1001]) | json_values
payloads = st.fixed_dictionaries({}, optional={"email": emails | json_values, "length": lengths}) | json_values

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def fuzz_client(settings_with, redis_conn):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings_with(max_sequence_length=1000)})
    return app.test_client()


def is_valid(email, length) -> bool:
    if not isinstance(email, str) or isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 1000:
        return False
    if len(email) > 254:
        return False
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


@FUZZ
@given(payload=payloads)
def test_api_never_5xx_and_enqueues_only_valid_requests(fuzz_client, queue, redis_conn, payload):
    redis_conn.flushdb()
    response = fuzz_client.post("/api/sequences", data=json.dumps(payload), content_type="application/json")
    assert response.status_code < 500, response.get_data(as_text=True)
    expected = isinstance(payload, dict) and is_valid(payload.get("email"), payload.get("length"))
    assert (response.status_code == 202) == expected, (payload, response.get_json())
    assert queue.count == (1 if expected else 0)
    assert response.is_json


@FUZZ
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
)
def test_api_survives_arbitrary_bytes(fuzz_client, queue, redis_conn, body, content_type):
    redis_conn.flushdb()
    response = fuzz_client.post("/api/sequences", data=body, content_type=content_type or None)
    assert response.status_code < 500
    if response.status_code != 202:
        assert queue.count == 0


@FUZZ
@given(
    email=st.text(max_size=300) | st.emails(),
    length=st.text(max_size=30) | st.integers().map(str),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
)
def test_form_never_5xx_and_enqueues_only_valid_submissions(fuzz_client, queue, redis_conn, email, length, extra):
    redis_conn.flushdb()
    response = fuzz_client.post("/sequences", data={**extra, "email": email, "length": length})
    assert response.status_code < 500
    try:
        number = int(length)
    except ValueError:
        number = None
    expected = number is not None and is_valid(email, number)
    assert (response.status_code == 303) == expected, (email, length, response.status_code)
    assert queue.count == (1 if expected else 0)
    assert "Traceback" not in response.get_data(as_text=True)


@FUZZ
@given(job_id=st.text(max_size=100))
def test_job_status_lookups_never_5xx(fuzz_client, job_id):
    for path in (f"/api/jobs/{job_id}", f"/jobs/{job_id}"):
        response = fuzz_client.get(path.replace("?", "%3F").replace("#", "%23"))
        assert response.status_code < 500
