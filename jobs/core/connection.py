"""The Redis connection and the RQ queue, shared by web, worker and CLI use."""

import redis.exceptions
from redis import Redis
from rq import Queue

from jobs.core.settings import Settings

# Redis down, restarting or unreachable: an outage to wait out, not a bug.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def url_without_certificate_check(url: str) -> str:
    """``url``, for ``rediss://`` with certificate verification off: Heroku Redis's certificate is
    self-signed (https://devcenter.heroku.com/articles/connecting-heroku-redis#connecting-in-python).
    In the URL because rq-dashboard and RQ's ``rq`` command take only a URL."""
    if not url.startswith("rediss://") or "ssl_cert_reqs=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"


def connect_redis(url: str, **overrides) -> Redis:
    # socket_connect_timeout: fail fast when Redis is down instead of hanging a web request.
    # health_check_interval: Heroku Redis closes idle connections; ping before reusing an old one.
    options = {"socket_connect_timeout": 2, "health_check_interval": 30, **overrides}
    return Redis.from_url(url_without_certificate_check(url), **options)


class FibTasticQueue(Queue):
    """RQ's Queue, with a maintenance lock that a killed worker cannot hold for long.

    RQ's lock lasts 899 s: a worker SIGKILLed during a maintenance pass (milliseconds) would stop
    abandoned jobs being retried for 15 minutes, against README "Guarantees"' two.
    Upstream: https://github.com/rq/rq/issues/2005; `make upstream-check` says when RQ's own lock is as short (tests/test_worker.py).
    """

    MAINTENANCE_LOCK_SECONDS = 60

    def acquire_maintenance_lock(self) -> bool:
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=self.MAINTENANCE_LOCK_SECONDS))


def get_queue(connection: Redis, settings: Settings) -> Queue:
    return FibTasticQueue(settings.queue_name, connection=connection)


def registry_counts(queue: Queue) -> dict[str, int]:
    # cleanup=False: reading the registries must not change them (that is the worker's maintenance).
    registries = {"started": queue.started_job_registry, "scheduled": queue.scheduled_job_registry, "failed": queue.failed_job_registry}
    return {name: registry.get_job_count(cleanup=False) for name, registry in registries.items()}
