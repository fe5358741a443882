"""A Redis failover answers 503 with Retry-After, like any other Redis outage.

During a failover the app may still be connected to the old primary, now a
replica that answers every write with READONLY. A real redis-server made a
replica of another (REPLICAOF, replica-read-only by default) does just that.
"""

from __future__ import annotations

import pytest
import redis

from tests.support.processes import wait_for
from tests.support.redis_server import RedisServer
from web import create_app
from web.errors import RETRY_AFTER_SECONDS


@pytest.fixture(scope="module")
def replica():
    """A server that has just become a replica of another: it reads, it
    refuses writes. Writes fail, so the tests can share it."""
    primary, replica = RedisServer().start(), RedisServer().start()
    try:
        # Sync at once, not after the default 5 s wait for more replicas.
        primary.client().config_set("repl-diskless-sync-delay", 0)
        client = replica.client()
        client.replicaof("127.0.0.1", primary.port)
        wait_for(lambda: client.info("replication")["master_link_status"] == "up", what="replication link")
        assert client.config_get("replica-read-only")["replica-read-only"] == "yes"
        client.close()
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


@pytest.fixture
def failover_client(settings_with, replica):
    _, server = replica
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings_with(redis_url=server.url)})
    return app.test_client()


def stored_keys(replica) -> list[bytes]:
    keys = []
    for server in replica:
        with server.client() as client:
            keys += client.keys("*")
    return keys


def test_the_replica_refuses_writes(replica):
    # What the app meets; if this passes without an error, the tests below prove nothing.
    with pytest.raises(redis.exceptions.ReadOnlyError):
        replica[1].client().set("probe", "1")


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "order-17"}], ids=["plain", "idempotent"])
def test_the_api_answers_503_with_retry_after(failover_client, replica, headers):
    response = failover_client.post("/api/sequences", json={"email": "ada@example.com", "length": 10}, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.get_json() == {"errors": {"service": "We cannot take new requests right now. Please try again in a few seconds."}}
    assert stored_keys(replica) == []


def test_the_form_answers_503_with_retry_after(failover_client, replica):
    response = failover_client.post("/sequences", data={"email": "ada@example.com", "length": "10"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    page = response.get_data(as_text=True)
    assert "Please try again in a few seconds" in page and "Traceback" not in page and "READONLY" not in page
    assert stored_keys(replica) == []


def test_healthz_answers_503_while_writes_are_refused(failover_client):
    # Its probe is a write (web/health.py): submissions answer 503 now, so does /healthz.
    response = failover_client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"redis": "unreachable", "queue": "default"}
