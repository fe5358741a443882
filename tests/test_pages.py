"""The HTML form and status page, through Flask's test client and a real Redis."""

import re

import pytest

from tests.conftest import TEST_SECRET_KEY
from web import create_app


def test_form_page(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="email"' in page and 'name="length"' in page
    assert "From 1 to 1000." in page


def test_valid_form_enqueues_one_job_and_redirects_to_its_status_page(client, queue):
    response = client.post("/sequences", data={"email": " Ada@Example.com ", "length": "12"})
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/jobs/{job_id}"
    assert queue.job_ids == [job_id]
    job = queue.fetch_job(job_id)
    assert job.args == ("Ada@example.com", 12)  # domain lower-cased by email-validator
    assert job.func_name == "jobs.tasks.send_fibonacci_email"
    assert job.retries_left == 2

    status_page = client.get(response.headers["Location"])
    assert status_page.status_code == 200
    html = status_page.get_data(as_text=True)
    assert "Your 12 Fibonacci numbers" in html
    assert 'id="job-status">Queued<' in html
    assert f'data-status-url="/api/jobs/{job_id}"' in html
    assert "job_status.js" in html


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"length": "5"}, "email", "Enter your email address."),
        ({"email": "", "length": "5"}, "email", "Enter your email address."),
        ({"email": "not-an-address", "length": "5"}, "email", "An email address must have an @-sign."),
        ({"email": "a@b", "length": "5"}, "email", "The part after the @-sign is not valid."),
        ({"email": "a" * 250 + "@example.com", "length": "5"}, "email", "That address is too long."),
        ({"email": "ada@example.com"}, "length", "Enter how many numbers you want."),
        ({"email": "ada@example.com", "length": "ten"}, "length", "Enter a whole number, like 10."),
        ({"email": "ada@example.com", "length": "2.5"}, "length", "Enter a whole number, like 10."),
        ({"email": "ada@example.com", "length": "0"}, "length", "Choose a number from 1 to 1000."),
        ({"email": "ada@example.com", "length": "-3"}, "length", "Choose a number from 1 to 1000."),
        ({"email": "ada@example.com", "length": "1001"}, "length", "Choose a number from 1 to 1000."),
        ({"email": "ada@example.com", "length": "9" * 5000}, "length", "Enter a whole number, like 10."),
    ],
)
def test_bad_input_shows_the_error_beside_the_field_and_enqueues_nothing(client, queue, form, field, message):
    response = client.post("/sequences", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>', html)
    assert error, html
    assert message in error.group(1)
    # What the user typed is kept.
    for name, value in form.items():
        if name != field and value:
            assert f'value="{value}"' in html
    assert queue.count == 0


def test_form_without_csrf_token_is_refused(settings, redis_conn, queue):
    app = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings})  # CSRF on
    client = app.test_client()
    response = client.post("/sequences", data={"email": "ada@example.com", "length": "5"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The form expired" in html
    assert 'value="ada@example.com"' in html
    assert queue.count == 0


def test_form_with_csrf_token_is_accepted(settings, redis_conn, queue):
    app = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings})
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    response = client.post("/sequences", data={"email": "ada@example.com", "length": "5", "csrf_token": token})
    assert response.status_code == 303
    assert queue.count == 1
    assert app.secret_key == TEST_SECRET_KEY


def test_unknown_status_page_is_404(client):
    assert client.get("/jobs/no-such-job").status_code == 404
    assert client.get("/jobs/" + "x" * 65).status_code == 404


def test_unknown_page_and_wrong_method_are_html(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "There is nothing at this address." in missing.get_data(as_text=True)
    wrong = client.delete("/sequences")
    assert wrong.status_code == 405 and wrong.mimetype == "text/html"
    assert "POST" in wrong.headers["Allow"]


def test_oversized_form_is_refused(client, queue):
    response = client.post("/sequences", data={"email": "a@example.com", "length": "5", "padding": "x" * 20000})
    assert response.status_code == 413
    assert queue.count == 0


@pytest.mark.parametrize("csrf", [True, False], ids=["csrf-on", "csrf-off"])
@pytest.mark.parametrize(
    "body",
    [{"email": "ada@example.com", "length": 5}, {"email": 5, "length": [1]}, [1, 2], "ada@example.com"],
    ids=["numbers", "wrong-types", "list", "string"],
)
def test_json_posted_to_the_form_is_refused_like_any_incomplete_form(settings, redis_conn, queue, csrf, body):
    """The page's form takes form fields only; the JSON API is /api/sequences.
    Flask-WTF would otherwise read a JSON body as the form's data, numbers and
    lists included, which the fields cannot parse (a 500)."""
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": csrf, "FIBTASTIC_SETTINGS": settings})
    response = app.test_client().post("/sequences", json=body)
    assert response.status_code == (400 if csrf else 422)
    assert response.mimetype == "text/html"
    assert queue.count == 0
