"""A Redis that evicts keys when full (any maxmemory-policy but noeviction, which `heroku redis:maxmemory`
can set) deletes queued jobs without a word: one warning line says so, naming the policy and the fix."""

from __future__ import annotations

import logging

import pytest

from jobs.core.connection import connect_redis
from jobs.core.redis_memory import warn_if_redis_evicts
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer
from web import create_app

log = logging.getLogger("tests.eviction")


@pytest.fixture(scope="module")
def evicting_redis():
    server = RedisServer(plan="mini", config={"maxmemory-policy": "allkeys-lru"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mini_noeviction():
    server = RedisServer(plan="mini").start()
    yield server
    server.stop()


def warnings_from(caplog, name: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == name and record.levelno == logging.WARNING]


def test_a_redis_that_evicts_gets_one_line_with_the_policy_the_risk_and_the_fix(evicting_redis, caplog):
    with evicting_redis.client() as client:
        warn_if_redis_evicts(client, log)
    [line] = warnings_from(caplog, "tests.eviction")
    assert "allkeys-lru" in line
    assert "jobs can vanish" in line
    assert "heroku redis:maxmemory <addon> --policy noeviction" in line


def test_noeviction_says_nothing(mini_noeviction, caplog):
    with mini_noeviction.client() as client:
        warn_if_redis_evicts(client, log)
    assert caplog.records == []


def test_a_redis_that_cannot_be_asked_says_nothing(caplog):
    with connect_redis(f"redis://127.0.0.1:{free_port()}/0") as client:
        warn_if_redis_evicts(client, log)
    assert caplog.records == []


def test_the_web_says_it_once_at_boot(settings_with, evicting_redis, mini_noeviction, caplog):
    create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings_with(redis_url=evicting_redis.url)})
    [line] = warnings_from(caplog, "web")
    assert "allkeys-lru" in line
    caplog.clear()
    create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings_with(redis_url=mini_noeviction.url)})
    assert warnings_from(caplog, "web") == []
