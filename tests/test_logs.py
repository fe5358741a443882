"""One submission, followed through the logs by its request id: gunicorn and
the worker run from the Procfile, and every line they print is logfmt."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from jobs.core.log_context import request_id_from_header
from jobs.core.logging_setup import LogfmtFormatter
from tests.support.processes import wait_for

LOGFMT_LINE = re.compile(r'at=(debug|info|warning|error|critical) logger=\S+ (\w+=("([^"\\]|\\.)*"|\S*) ?)*')


def submit(base: str, email: str, headers: dict[str, str]):
    request = urllib.request.Request(
        base + "/api/sequences",
        data=json.dumps({"email": email, "length": 8}).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    return urllib.request.urlopen(request, timeout=5)


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


@pytest.mark.slow
def test_one_request_id_follows_a_submission_from_gunicorn_to_the_worker(running_app, smtp_sink):
    base, web, worker = running_app
    request_id = "5c6e6c0c-2a4e-4c4f-9c1e-1f0b8a6f4d21"  # as Heroku's router sends it
    response = submit(base, "grace.hopper@example.com", {"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] == request_id
    job_id = json.load(response)["job_id"]
    smtp_sink.wait_for_messages(1)
    wait_for(lambda: lines_with(worker.output(), "result is kept"), timeout=20, what="the worker to finish the job")
    wait_for(lambda: lines_with(web.output(), "gunicorn.access"), timeout=5, what="the access line")

    web_lines = lines_with(web.output(), f"request_id={request_id}")
    worker_lines = lines_with(worker.output(), f"request_id={request_id}")
    # gunicorn's access line and the app's own line, in the web's output.
    assert any('logger=gunicorn.access method=POST path="/api/sequences" status=202' in line for line in web_lines), web.output()
    assert any("logger=jobs.tasks" in line and f"job enqueued job_id={job_id}" in line for line in web_lines), web.output()
    # The worker's lines for that job, RQ's own included, carry the same id.
    assert any("logger=jobs.tasks" in line and "email sent" in line for line in worker_lines), worker.output()
    assert any("logger=rq.worker" in line and "Job OK" in line for line in worker_lines), worker.output()
    assert all(f"job_id={job_id}" in line for line in worker_lines)

    for output in (web.output(), worker.output()):
        assert "grace.hopper@example.com" not in output
        for line in output.splitlines():
            assert LOGFMT_LINE.fullmatch(line), line


@pytest.mark.slow
def test_a_request_without_a_usable_id_gets_a_new_one(running_app):
    base, web, _worker = running_app
    for header in ({}, {"X-Request-ID": 'bad" at=error msg=forged'}):
        response = urllib.request.urlopen(urllib.request.Request(base + "/healthz", headers=header), timeout=5)
        new_id = response.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f-]{36}", new_id)
        wait_for(lambda new_id=new_id: f"request_id={new_id}" in web.output(), timeout=5, what="the access line")
    assert "forged" not in web.output()


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("5c6e6c0c-2a4e-4c4f-9c1e-1f0b8a6f4d21", True),
        ("my-proxy:1234.abc", True),
        ("short", False),
        ("x" * 201, False),
        ("a b c d e f g h", False),
    ],
)
def test_request_ids_are_kept_only_when_they_look_like_one(header, kept):
    assert (request_id_from_header(header) == header) is kept


def test_log_lines_mask_addresses_and_stay_on_one_line():
    import logging

    record = logging.LogRecord("rq.worker", logging.ERROR, __file__, 1, "failed:\n550 <ada@example.com> rejected", None, None)
    line = LogfmtFormatter().format(record)
    assert "\n" not in line and "ada@example.com" not in line and "a***@example.com" in line
