"""Redis stops and comes back under a running gunicorn and worker: clear 503s
while it is away, nothing half-written, and both reconnect by themselves."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import redis

from tests.support.processes import environment_for, free_port, wait_for
from tests.support.procfile import start_process_type
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

# A client gives up after this long: a hang fails the test instead of stalling it.
CLIENT_TIMEOUT = 5


def post_json(base: str, payload: dict):
    request = urllib.request.Request(
        base + "/api/sequences", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        response = urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()
    return response.status, response.headers, response.read().decode()


@pytest.fixture
def own_redis():
    server = RedisServer(free_port(), persistent=True).start()
    yield server
    server.stop()


def test_redis_restart_gives_clean_503s_and_everything_reconnects(settings_with, smtp_sink, own_redis, tmp_path):
    port = free_port()
    settings = settings_with(redis_url=own_redis.url, smtp_url=smtp_sink.url)
    env = environment_for(settings, PORT=str(port), WEB_CONCURRENCY="2")
    web = start_process_type("web", env, tmp_path / "web.log")
    worker = start_process_type("worker", env, tmp_path / "worker.log")
    base = f"http://127.0.0.1:{port}"
    store = redis.Redis.from_url(own_redis.url)
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/", timeout=1).status == 200, timeout=30, what="gunicorn")
        status, _, _ = post_json(base, {"email": "before@example.com", "length": 5})
        assert status == 202
        smtp_sink.wait_for_messages(1)
        jobs_before = sorted(store.keys("rq:job:*"))
        assert len(jobs_before) == 1

        # A browser with the form open, holding a valid CSRF token.
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = browser.open(base + "/", timeout=CLIENT_TIMEOUT).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

        own_redis.stop(keep_data=True)

        status, headers, body = post_json(base, {"email": "during@example.com", "length": 5})
        assert status == 503, body
        assert headers["Retry-After"] == "5"
        assert json.loads(body) == {"errors": {"service": "We cannot take new requests right now. Please try again in a few seconds."}}

        form = urllib.parse.urlencode({"csrf_token": token, "email": "during@example.com", "length": "5"}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            browser.open(base + "/sequences", data=form, timeout=CLIENT_TIMEOUT)
        assert refused.value.code == 503
        assert refused.value.headers["Retry-After"] == "5"
        html = refused.value.read().decode()
        assert "Please try again in a few seconds" in html and "Traceback" not in html

        # The worker notices and keeps trying; nobody restarts anything.
        noticed = ("could not connect to Redis", "lost redis")
        wait_for(lambda: any(line in worker.output() for line in noticed), timeout=30, what="the worker to notice")
        assert web.popen.poll() is None and worker.popen.poll() is None

        own_redis.start()
        # Nothing half-written while it was away: the same one job, no more.
        assert sorted(store.keys("rq:job:*")) == jobs_before

        # The first request after the restart may still meet a dead pooled
        # connection; the client retries 503s (that is what Retry-After is for).
        answers = []

        def submit_after():
            status, _, _ = post_json(base, {"email": "after@example.com", "length": 8})
            answers.append(status)
            return status == 202

        wait_for(submit_after, timeout=30, interval=0.5, what="a submission to be accepted again")
        assert set(answers) <= {202, 503}, answers
        received = smtp_sink.wait_for_messages(2, timeout=90)
        assert sorted(mail.recipients[0] for mail in received) == ["after@example.com", "before@example.com"]
        assert web.popen.poll() is None and worker.popen.poll() is None
        assert "Traceback" not in web.output()
    finally:
        store.close()
        web.stop()
        worker.stop()
