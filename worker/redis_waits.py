"""Waiting for Redis in the worker dyno: down, restarting, refusing connections at its plan's limit, or full.

Each is an outage to wait out, with one log line per attempt and no traceback: a worker that exits is
restarted by Heroku with growing cool-offs while the queue waits, and a work-horse that exits because it could
not connect counts as a failed attempt, using up one of the job's retries for nothing (docs/redis-plans.md)."""

import logging
import time

from redis import Redis, RedisError

from jobs.core.connection import connect_redis, is_outage, redis_client_url, redis_problem
from jobs.core.redis_memory import WRITE_PROBE_KEY, is_redis_full
from jobs.core.settings import Settings
from worker import stop_signals

log = logging.getLogger("worker")

LONGEST_PAUSE = 10.0


def wait_for_redis(settings: Settings, first_try_after: float = 0.0) -> bool:
    """Block until Redis takes writes (True) or SIGTERM/SIGINT asks to stop (False): a dyno restarted during a
    failover must not exit, or Heroku restarts it with growing cool-offs while the queue waits."""
    # Again after work() returned: RQ's handlers are still installed, and raising from one here would be lost.
    stop_signals.latch_stop_signals()
    # Its own socket timeout: a server that never answers (a failover in progress) is a failed attempt.
    connection = connect_redis(redis_client_url(settings), socket_timeout=5)
    delay, pause = first_try_after, 1.0
    try:
        while True:
            # Short steps: time.sleep resumes after a signal handler, and a stop should not wait 10 s.
            resume_at = time.monotonic() + delay
            while not stop_signals.stop_latched() and time.monotonic() < resume_at:
                time.sleep(min(0.1, delay))
            if stop_signals.stop_latched():
                break
            try:
                # A full Redis answers PING but refuses the writes a worker starts with. Stores nothing (XX).
                connection.set(WRITE_PROBE_KEY, "", xx=True)
                break
            except RedisError as error:
                if not is_outage(error):
                    raise
                log.warning("waiting for redis: next try in %g s (%s)", pause, redis_problem(error))
            delay, pause = pause, min(pause * 2, LONGEST_PAUSE)
    finally:
        connection.close()  # a connection of its own, not to be held for the life of the process
    if stop_signals.stop_latched():
        # Taken here, not handed to RQ: no worker is built.
        log.info("stopping while waiting for redis (%s)", stop_signals.signal_name(stop_signals.take_latched_stop()))
        return False
    return True


def wait_for_a_connection(connection: Redis) -> None:
    """Until ``connection`` reaches Redis: in a work-horse, whose connections are its own (a pool's are not
    shared across a fork). RQ's monitor still ends a horse that waits past its job's timeout."""
    pause = 0.5
    while True:
        try:
            connection.ping()
            return
        except RedisError as error:
            if not is_outage(error):
                raise
            log.warning("work-horse waiting for redis before it starts its job: next try in %g s (%s)", pause, redis_problem(error))
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


class WaitsOutAFullRedis:
    """For RQ workers: RQ's dequeue loop waits out a lost connection, but a full Redis (every write refused,
    noeviction) made it quit the worker with a traceback, and Heroku restart it into the same. Waited out here
    the same way; a stop signal still ends the wait (RQ's handler raises StopRequested while idle)."""

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        pause = 1.0
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except RedisError as error:
                if not is_redis_full(error):
                    raise
                log.warning("worker waiting for redis to take writes: next try in %g s (%s)", pause, redis_problem(error))
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
