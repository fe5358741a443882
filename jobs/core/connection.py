"""The Redis connection and the RQ queue, shared by web, worker and CLI use."""

import ssl

import redis.exceptions
from redis import Redis
from rq import Queue

from jobs.core.redis_memory import is_redis_full
from jobs.core.settings import Settings

# Redis down, restarting, unreachable, or refusing connections at its plan's limit ("max number of clients
# reached" is a ConnectionError): an outage to wait out, not a bug.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def is_outage(error: BaseException) -> bool:
    """Redis down or refusing connections, read-only (after a failover, the old primary until we reconnect), or
    full (noeviction, Heroku's default, refuses writes until memory frees): to wait out, not a bug."""
    return isinstance(error, (*REDIS_DOWN, redis.exceptions.ReadOnlyError)) or is_redis_full(error)


def redis_problem(error: BaseException) -> str:
    """One line saying what is wrong with Redis and what to do, for the logs."""
    if is_redis_full(error):
        return f"redis is full: it refuses writes until memory frees ({error}; docs/redis-plans.md)"
    if "max number of clients" in str(error):
        return f"redis refused a connection: its plan's connection limit is reached ({error}; docs/redis-plans.md)"
    return f"{type(error).__name__}: {error}{certificate_hint(error)}"


def redis_client_url(settings: Settings) -> str:
    """REDIS_URL as every client takes it (redis-py, rq-dashboard, flask-limiter, RQ's ``rq``: some take only a
    URL): a ``rediss://`` one with REDIS_VERIFY_CERTIFICATE off gets ``ssl_cert_reqs=none``, unless it says already."""
    url = settings.redis_url
    if settings.redis_verify_certificate or not url.startswith("rediss://") or "ssl_cert_reqs=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "ssl_cert_reqs=none"


def connect_redis(url: str, **overrides) -> Redis:
    """A client for ``url`` as it is: for REDIS_URL, pass :func:`redis_client_url`."""
    # socket_connect_timeout: fail fast when Redis is down instead of hanging a web request.
    # health_check_interval: Heroku Redis closes idle connections; ping before reusing an old one.
    options = {"socket_connect_timeout": 2, "health_check_interval": 30, **overrides}
    return Redis.from_url(url, **options)


def certificate_hint(error: BaseException) -> str:
    """What to do about a Redis connection error that is a refused certificate (else nothing)."""
    if not isinstance(error.__context__, ssl.SSLCertVerificationError):
        return ""
    return (
        " (REDIS_URL's certificate was not accepted: if the provider's certificate is self-signed, as Heroku Key-Value"
        " Store's is, set REDIS_VERIFY_CERTIFICATE=off; or give its CA with ?ssl_ca_certs=<file> in REDIS_URL)"
    )


class FibTasticQueue(Queue):
    """RQ's Queue, with a maintenance lock that a killed worker cannot hold for long.

    RQ's lock lasts 899 s: a worker SIGKILLed during a maintenance pass (milliseconds) would stop
    abandoned jobs being retried for 15 minutes, against the two of docs/guarantees.md.
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
