"""The Redis connection and the RQ queue, shared by web, worker and CLI use."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from jobs.core.settings import Settings

# Jobs are stored as JSON rather than pickle: anyone who can write to Redis
# could otherwise make the worker unpickle (and so run) arbitrary code, and
# JSON stays readable in the dashboard. Every Queue, Worker and Job.fetch must
# use the same serializer.
SERIALIZER = JSONSerializer


def redis_connection_options(url: str) -> dict:
    """Keyword arguments for ``Redis.from_url`` that suit ``url``.

    Heroku Redis serves TLS (``rediss://``) with a self-signed certificate, so
    verification has to be off or every connection fails
    (https://devcenter.heroku.com/articles/connecting-heroku-redis#connecting-in-python).
    """
    options: dict = {
        # Fail fast when Redis is down instead of hanging a web request.
        "socket_connect_timeout": 2,
        # Heroku Redis closes idle connections; ping before reusing an old one.
        "health_check_interval": 30,
    }
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = "none"
    return options


def url_without_certificate_check(url: str) -> str:
    """``url`` for tools that take only a URL, such as RQ's ``rq`` command:
    for ``rediss://``, with the same verification-off option as a query
    parameter, which redis-py reads (``?ssl_cert_reqs=none``)."""
    if not url.startswith("rediss://") or "ssl_cert_reqs=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"


def connect_redis(url: str, **overrides) -> Redis:
    options = redis_connection_options(url)
    options.update(overrides)
    return Redis.from_url(url, **options)


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
    return FibTasticQueue(settings.queue_name, connection=connection, serializer=SERIALIZER)
