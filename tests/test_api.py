"""The JSON API, through Flask's test client and a real Redis."""

import pytest


def test_accepts_a_request_with_202_location_and_status_url(client, queue):
    response = client.post("/api/sequences", json={"email": "ada@example.com", "length": 10})
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"job_id", "status_url"}
    assert body["status_url"] == f"http://localhost/api/jobs/{body['job_id']}"
    assert response.headers["Location"] == body["status_url"]
    assert queue.job_ids == [body["job_id"]]
    assert queue.fetch_job(body["job_id"]).args == ("ada@example.com", 10)


def test_job_status_fields(client):
    job_id = client.post("/api/sequences", json={"email": "ada@example.com", "length": 10}).get_json()["job_id"]
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert {"id", "status", "length", "enqueued_at", "started_at", "ended_at", "error"} <= set(body)
    assert body["id"] == job_id
    assert body["status"] == "queued"
    assert body["length"] == 10
    assert body["enqueued_at"].endswith("Z")
    assert body["started_at"] is None and body["ended_at"] is None and body["error"] is None
    assert "ada@example.com" not in response.get_data(as_text=True)


def test_unknown_job_is_a_json_404(client):
    response = client.get("/api/jobs/does-not-exist")
    assert response.status_code == 404
    message = "No job with this id (finished jobs are kept for an hour, failed ones for 3 days)."
    assert response.get_json() == {"errors": {"job_id": message}}


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, {"email": "Enter your email address.", "length": "Enter how many numbers you want."}),
        ({"email": "", "length": 5}, {"email": "Enter your email address."}),
        ({"email": "nope", "length": 5}, {"email": "An email address must have an @-sign."}),
        ({"email": 42, "length": 5}, {"email": "Must be a string."}),
        ({"email": ["a@example.com"], "length": 5}, {"email": "Must be a string."}),
        ({"email": "ada@example.com"}, {"length": "Enter how many numbers you want."}),
        ({"email": "ada@example.com", "length": "5"}, {"length": "Must be a whole number, like 10."}),
        ({"email": "ada@example.com", "length": 2.5}, {"length": "Must be a whole number, like 10."}),
        ({"email": "ada@example.com", "length": 5.0}, {"length": "Must be a whole number, like 10."}),
        ({"email": "ada@example.com", "length": True}, {"length": "Must be a whole number, like 10."}),
        ({"email": "ada@example.com", "length": None}, {"length": "Enter how many numbers you want."}),
        ({"email": "ada@example.com", "length": 0}, {"length": "Choose a number from 1 to 1000."}),
        ({"email": "ada@example.com", "length": -1}, {"length": "Choose a number from 1 to 1000."}),
        ({"email": "ada@example.com", "length": 1001}, {"length": "Choose a number from 1 to 1000."}),
        ({"email": "ada@example.com", "length": 10**40}, {"length": "Choose a number from 1 to 1000."}),
    ],
)
def test_invalid_fields_are_422_and_enqueue_nothing(client, queue, payload, errors):
    response = client.post("/api/sequences", json=payload)
    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}
    assert queue.count == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("{not json", "application/json", 400, "The body is not valid JSON."),
        ("", "application/json", 400, "The body is not valid JSON."),
        ("[1, 2]", "application/json", 400, "The body must be a JSON object"),
        ('"text"', "application/json", 400, "The body must be a JSON object"),
        ("null", "application/json", 400, "The body"),
        ("email=a@example.com&length=5", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
        ('{"email": "a@example.com", "length": 5}', "text/plain", 415, "Content-Type: application/json"),
    ],
)
def test_malformed_bodies_are_refused_and_enqueue_nothing(client, queue, body, content_type, status, message):
    response = client.post("/api/sequences", data=body, content_type=content_type)
    assert response.status_code == status
    assert message in response.get_json()["errors"]["body"]
    assert queue.count == 0


def test_oversized_body_is_413_json(client, queue):
    response = client.post("/api/sequences", json={"email": "a@example.com", "length": 5, "padding": "x" * 20000})
    assert response.status_code == 413
    assert response.get_json() == {"errors": {"request": "The request body is too large."}}
    assert queue.count == 0


def test_api_needs_no_csrf_token(settings, redis_conn, queue):
    from web import create_app

    client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()
    assert client.post("/api/sequences", json={"email": "ada@example.com", "length": 3}).status_code == 202
    assert queue.count == 1


def test_unknown_route_and_wrong_method_are_json(client):
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.get_json() == {"errors": {"request": "There is nothing at this address."}}
    wrong = client.get("/api/sequences")
    assert wrong.status_code == 405 and wrong.get_json() == {"errors": {"request": "GET is not allowed here."}}
    assert "POST" in wrong.headers["Allow"]


def test_redis_down_is_a_quick_503_with_retry_after(settings_with, redis_conn):
    from tests.support.processes import free_port
    from web import create_app

    down = settings_with(redis_url=f"redis://127.0.0.1:{free_port()}")
    client = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": down}).test_client()
    api = client.post("/api/sequences", json={"email": "ada@example.com", "length": 3})
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert "try again" in api.get_json()["errors"]["service"]
    page = client.post("/sequences", data={"email": "ada@example.com", "length": "3"})
    assert page.status_code == 503 and page.mimetype == "text/html" and page.headers["Retry-After"] == "5"


def test_an_idempotency_key_makes_a_retried_request_return_the_same_job(client, queue):
    headers = {"Idempotency-Key": "order-17"}
    first = client.post("/api/sequences", json={"email": "ada@example.com", "length": 10}, headers=headers)
    again = client.post("/api/sequences", json={"email": "ADA@example.com", "length": 10}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert queue.count == 1
    # The same key for another recipient is another job; no key, always a new one.
    other = client.post("/api/sequences", json={"email": "grace@example.com", "length": 10}, headers=headers)
    assert other.status_code == 202 and other.get_json()["job_id"] != first.get_json()["job_id"]
    client.post("/api/sequences", json={"email": "ada@example.com", "length": 10})
    assert queue.count == 3


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\tkey"])
def test_a_malformed_idempotency_key_is_refused(client, queue, key):
    response = client.post("/api/sequences", json={"email": "ada@example.com", "length": 10}, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert "idempotency_key" in response.get_json()["errors"]
    assert queue.count == 0
