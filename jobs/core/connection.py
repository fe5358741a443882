"""The Redis connection and the RQ queue, shared by web, worker and CLI use."""

from __future__ import annotations

from redis import Redis
from rq import Queue

from jobs.core.settings import Settings


def url_without_certificate_check(url: str) -> str:
    """``url``, and for ``rediss://`` with certificate verification off.

    Heroku Redis serves TLS with a self-signed certificate, so verification has
    to be off or every connection fails
    (https://devcenter.heroku.com/articles/connecting-heroku-redis#connecting-in-python).
    It goes in the URL (redis-py reads ``?ssl_cert_reqs=none``) because
    rq-dashboard and RQ's ``rq`` command take only a URL.
    """
    if not url.startswith("rediss://") or "ssl_cert_reqs=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"


def redis_connection_options() -> dict:
    """Keyword arguments for ``Redis.from_url`` besides the URL."""
    return {
        # Fail fast when Redis is down instead of hanging a web request.
        "socket_connect_timeout": 2,
        # Heroku Redis closes idle connections; ping before reusing an old one.
        "health_check_interval": 30,
    }


def connect_redis(url: str, **overrides) -> Redis:
    return Redis.from_url(url_without_certificate_check(url), **{**redis_connection_options(), **overrides})


class FibTasticQueue(Queue):
    """RQ's Queue, with a maintenance lock that a killed worker cannot hold for long.

    One worker at a time cleans a queue's registries (finds jobs abandoned by
    dead workers and retries them), under a lock RQ sets for 899 s and deletes
    when the pass ends (rq/queue.py ``acquire_maintenance_lock``). A worker
    SIGKILLed during a pass leaves it for 15 minutes, and no abandoned job is
    retried meanwhile: README "Guarantees" promises under two minutes. A pass
    takes milliseconds, so a minute is plenty. Upstream: the 899 s lock is
    rq/rq#2005 (https://github.com/rq/rq/issues/2005);
    tests/test_worker.py fails when RQ's own lock gets shorter.
    """

    MAINTENANCE_LOCK_SECONDS = 60

    def acquire_maintenance_lock(self) -> bool:
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=self.MAINTENANCE_LOCK_SECONDS))


def get_queue(connection: Redis, settings: Settings) -> Queue:
    return FibTasticQueue(settings.queue_name, connection=connection)
