"""Shared fixtures: a real Redis, a real SMTP server, a SendGrid stand-in, the app.

Redis: a throwaway ``redis-server`` on a free port for the whole session, or
the one at ``TEST_REDIS_URL`` (GitHub Actions' service container). Its
database is flushed before every test that uses it, so never point
TEST_REDIS_URL at data you want to keep: one not on this machine is refused
unless TEST_REDIS_ALLOW_FLUSH=1 (tests/support/flush_guard.py). Under
pytest-xdist (``make test``) each worker process is a session of its own: its
own throwaway server, or its own database of TEST_REDIS_URL's server (the
URL's number + the worker's).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from jobs.core.connection import connect_redis, get_queue
from jobs.core.settings import Settings
from tests.support.flush_guard import refuse_to_flush_elsewhere
from tests.support.processes import environment_for, free_port, wait_for
from tests.support.procfile import start_process_type
from tests.support.redis_server import RedisServer, TlsUnsupported
from tests.support.sendgrid_stub import SendGridStub
from tests.support.smtp_sink import SmtpSink
from web import create_app

# Checks that report whether an upstream bug we work around is still there (never failing).
pytest_plugins = ["tests.support.upstream"]

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
# `-n auto` (make test): pytest-xdist workers per CPU. The tests mostly wait
# for the servers and processes they start, so more workers than CPUs. On 2
# CPUs the suite took 175 s with 4 workers, 167 s with 6 (513 s one at a time);
# on the same CPUs busy with other work, the fast set took 50 s with 4, 65 with
# 6 and 86 with 8 (every worker collects the whole suite, ~3 s of CPU). At most
# 16: with TEST_REDIS_URL each worker flushes a database of its own, and Redis
# has 16. PYTEST_XDIST_AUTO_NUM_WORKERS overrides.
WORKERS_PER_CPU = 2
MOST_WORKERS = 16


def pytest_xdist_auto_num_workers(config):
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return min(WORKERS_PER_CPU * (os.cpu_count() or 1), MOST_WORKERS)


def pytest_collection_modifyitems(items):
    # Slow tests first: handed out one at a time (--maxschedchunk=1 in
    # pyproject.toml), the longest start at once and the quick fill the gaps.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def redis_url(worker_id):
    if os.environ.get("TEST_REDIS_URL"):
        refuse_to_flush_elsewhere(os.environ["TEST_REDIS_URL"])
        yield database_of_worker(os.environ["TEST_REDIS_URL"], worker_id)
        return
    server = RedisServer().start()
    yield server.url
    server.stop()


def database_of_worker(url: str, worker_id: str) -> str:
    """``url`` with database number + n for pytest-xdist's worker "gw<n>", so
    workers flush only their own ("master": not distributed, ``url`` as it is)."""
    if worker_id == "master":
        return url
    parts = urllib.parse.urlsplit(url)
    if "db=" in parts.query:
        raise pytest.UsageError(f"TEST_REDIS_URL: give the database as the path (redis://host:port/0), not ?db=: {url}")
    database = int(parts.path.strip("/") or 0) + int(worker_id.removeprefix("gw"))
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


def heroku_like_redis(plan: str | None = None) -> Iterator[RedisServer]:
    """A Redis of its own that serves as Heroku Key-Value Store does: TLS only, with a self-signed
    certificate, and a password ("p" and 64 hex digits, the shape of Heroku's); with ``plan``, its limits."""
    server = RedisServer(tls=True, password="p" + secrets.token_hex(32), plan=plan)
    try:
        server.start()
    except TlsUnsupported as error:
        server.stop()
        pytest.skip(f"{error}: the TLS tests need a redis-server built with TLS (Debian's: apt-get install redis-server)")
    yield server
    server.stop()


@pytest.fixture
def tls_redis_server():
    """Its ``url`` is a ``rediss://:<password>@...``, as Heroku gives it."""
    yield from heroku_like_redis()


@pytest.fixture
def mini_redis():
    """As app.json provisions it (heroku-redis:mini): 20 connections, 25 MB and noeviction. ``fill()`` makes it full."""
    yield from heroku_like_redis("mini")


@pytest.fixture
def redis_conn(redis_url):
    # connect_redis: TEST_REDIS_URL may be Heroku CI's rediss:// Redis.
    connection = connect_redis(redis_url)
    connection.flushdb()
    yield connection
    connection.close()


@pytest.fixture
def settings(redis_url) -> Settings:
    return Settings(
        redis_url=redis_url,
        # Nothing listens here unless a test starts an SMTP sink and replaces it.
        smtp_url=f"smtp://127.0.0.1:{free_port()}",
        secret_key=TEST_SECRET_KEY,
        mail_from="FibTastic Tests <tests@fibtastic.test>",
        mail_from_is_explicit=True,
        max_sequence_length=1000,
        retry_intervals=(0, 0),
        mail_timeout=3,
        # Tests post many times from one client; the limits have their own tests.
        rate_limit_per_ip="10000 per minute",
        rate_limit_per_recipient="10000 per hour",
        # No periodic job turning up in tests about something else; the
        # periodic jobs' own tests set a schedule.
        queue_report_schedule=None,
    )


@pytest.fixture
def app(settings, redis_conn):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def queue(redis_conn, settings):
    return get_queue(redis_conn, settings)


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def sendgrid_stub():
    stub = SendGridStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def settings_with(settings):
    """``settings_with(smtp_url=...)``: the test settings with some changed."""
    return lambda **changes: dataclasses.replace(settings, **changes)


@pytest.fixture
def start_web(tmp_path):
    """``start_web(settings, WEB_CONCURRENCY="4")``: the Procfile's web process (gunicorn) alone, loading
    ``settings``, with no worker: jobs stay in the queue, where a test can count them. Returns its base URL."""
    started = []

    def start(settings: Settings, **env: str) -> str:
        port = free_port()
        started.append(start_process_type("web", environment_for(settings, PORT=str(port), **env), tmp_path / f"web-{len(started)}.log"))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: urllib.request.urlopen(base + "/healthz", timeout=1).status == 200, timeout=30, what="gunicorn")
        return base

    yield start
    for web in started:
        web.stop()


@pytest.fixture
def running_app(settings_with, smtp_sink, redis_conn, tmp_path):
    """The app as Heroku runs it: the Procfile's web (gunicorn) and worker
    lines, with the test Redis and SMTP sink. Yields (base_url, web, worker)."""
    port = free_port()
    env = environment_for(settings_with(smtp_url=smtp_sink.url), PORT=str(port), WEB_CONCURRENCY="2")
    web = start_process_type("web", env, tmp_path / "web.log")
    worker = start_process_type("worker", env, tmp_path / "worker.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/healthz", timeout=1).status == 200, timeout=30, what="gunicorn")
        yield base, web, worker
    finally:
        web.stop()
        worker.stop()
