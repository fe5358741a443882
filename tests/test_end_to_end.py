"""The whole app as Heroku runs it: gunicorn and the worker from the Procfile,
a real Redis and a real SMTP server. A person's path through the form, over HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.support.mail_checks import assert_fibonacci_email
from tests.support.processes import wait_for


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_form_to_inbox_through_gunicorn_and_the_worker(running_app, smtp_sink):
    base, web, _worker = running_app
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies), NoRedirect)

    form_page = browser.open(base + "/").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form_page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": "ada@example.com", "length": "144"}).encode()
    with pytest.raises(urllib.error.HTTPError) as redirect:
        browser.open(base + "/sequences", data=data)
    assert redirect.value.code == 303
    status_path = redirect.value.headers["Location"]
    job_id = status_path.rsplit("/", 1)[1]
    assert "Your 144 Fibonacci numbers" in browser.open(base + status_path).read().decode()

    def job_finished():
        job = json.load(browser.open(f"{base}/api/jobs/{job_id}"))
        return job if job["status"] in ("finished", "failed") else None

    job = wait_for(job_finished, timeout=30, interval=0.2, what="the job to finish")
    assert job["status"] == "finished", job
    assert job["started_at"] and job["ended_at"] and job["error"] is None

    [received] = smtp_sink.wait_for_messages(1)
    assert_fibonacci_email(received, "ada@example.com", 144)
    # The access log is on stdout, in logfmt.
    assert re.search(r"at=info logger=gunicorn.access method=POST path=\"/sequences\" status=303", web.output())


def test_api_to_inbox_through_gunicorn_and_the_worker(running_app, smtp_sink):
    base, _web, _worker = running_app
    request = urllib.request.Request(
        base + "/api/sequences",
        data=json.dumps({"email": "grace@example.com", "length": 1000}).encode(),
        headers={"Content-Type": "application/json"},
    )
    response = urllib.request.urlopen(request)
    assert response.status == 202
    body = json.load(response)
    assert response.headers["Location"] == body["status_url"] == f"{base}/api/jobs/{body['job_id']}"
    [received] = smtp_sink.wait_for_messages(1)
    assert_fibonacci_email(received, "grace@example.com", 1000)
    job = wait_for(lambda: (job := json.load(urllib.request.urlopen(body["status_url"])))["status"] == "finished" and job, what="finished")
    assert job["length"] == 1000
