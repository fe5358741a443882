"""A guard for jobs whose side effect must not happen twice (an email, a charge).

RQ runs a job at least once: again after a deploy interrupts it, when its
worker dies and maintenance finds it abandoned, or twice at once when its id
is pushed onto the queue twice. Put ``@at_most_once`` on the job function:

- a run first looks for the job's *done* marker, ``fibtastic:once:done:<job id>``,
  and, finding it, skips the work and returns ``{"already_done": True}``;
- otherwise it takes the *claim*, ``fibtastic:once:claim:<job id>`` (SET NX,
  holding ``<worker name>/<pid>``, for the job's timeout + 60 s, the moment RQ
  kills a work-horse that overran it). A run that finds the claim taken raises
  :class:`AnotherRunIsRunning`, which is retried like any transient failure;
- when the function returns, the done marker is written (kept as long as a
  failed job, retried through a Redis restart); when it raises, the claim is
  released and the exception goes on to RQ.

A run that dies cannot release its claim. The worker does it for any guarded
job (:func:`release_dead_run`): when it sees its work-horse killed, and when
its maintenance finds a job abandoned by a worker that died. Only the dead
run's own claim is deleted (compare-and-delete in one Lua script), never the
claim of another run of the same job.

One gap no guard can close: a run killed after the side effect took place but
before the done marker is written leaves no trace, and a rerun repeats the
side effect (README "Guarantees" measures that window for the email).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as RedisRetry
from rq import Queue, get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from jobs.core.enqueue_policy import FAILURE_TTL

log = logging.getLogger(__name__)

# How long a done marker is kept: as long as a failed job, which can be
# requeued until then.
DONE_MARKER_TTL = FAILURE_TTL
# RQ kills a work-horse that overran its job's timeout by 60 s
# (rq/worker/worker_classes.py, monitor_work_horse): a claim lasting that long
# outlives every run that can still be acting.
CLAIM_MARGIN = 60
# A job enqueued with job_timeout=-1 (no timeout) has no such bound.
CLAIM_TTL_WITHOUT_TIMEOUT = 24 * 60 * 60
# Once the side effect took place, recording that is what stops a rerun from
# repeating it: keep trying through a Redis restart or failover (about 40 s in
# all) rather than give up at the first error.
DONE_MARKER_WRITE_RETRY = RedisRetry(
    ExponentialBackoff(cap=5, base=0.25), retries=12, supported_errors=(RedisConnectionError, RedisTimeoutError)
)

# Deletes the claim only if it holds the given worker name and, unless the
# pid given is empty (the whole worker died), the given pid.
_RELEASE = """
local owner = redis.call('get', KEYS[1])
if not owner then return 0 end
local worker, pid = string.match(owner, '^(.*)/(%d+)$')
if worker == ARGV[1] and (ARGV[2] == '' or pid == ARGV[2]) then
    return redis.call('del', KEYS[1])
end
return 0
"""


class AnotherRunIsRunning(RuntimeError):
    """Another run of this same job holds the claim. Not permanent: if that
    run fails or dies, a retry of this job does the work."""

    permanent = False


def claim_key(job_id: str) -> str:
    return f"fibtastic:once:claim:{job_id}"


def done_key(job_id: str) -> str:
    return f"fibtastic:once:done:{job_id}"


def owner(worker_name: str, pid: int) -> str:
    return f"{worker_name}/{pid}"


def claim_ttl(job: Job) -> int:
    if job.timeout == -1:
        return CLAIM_TTL_WITHOUT_TIMEOUT
    return int(job.timeout or Queue.DEFAULT_TIMEOUT) + CLAIM_MARGIN


def release(connection: Redis, job_id: str, worker_name: str, pid: int | None = None) -> bool:
    """Delete the claim on ``job_id`` if the run of ``worker_name`` (and of
    process ``pid``, if given) holds it. True if it was deleted."""
    script = connection.register_script(_RELEASE)
    return bool(script(keys=[claim_key(job_id)], args=[worker_name, "" if pid is None else str(pid)]))


def release_dead_run(job: Job, worker_name: str | None, pid: int | None = None) -> None:
    """For the worker, when the run of ``job`` by ``worker_name`` (in process
    ``pid``, if known) died: its claim must not hold up the retry. Does
    nothing for a job without the guard."""
    if worker_name and release(job.connection, job.id, worker_name, pid):
        log.info("released the claim of a run that died job_id=%s", job.id)


def release_abandoned_claim(job: Job, exc_type, exc_value, traceback) -> bool:
    """RQ exception handler: an abandoned job's worker died while running it
    (``job.worker_name`` is still that worker's), so its claim goes before
    RQ retries the job. True lets the next handler run."""
    if issubclass(exc_type, AbandonedJobError):
        release_dead_run(job, job.worker_name)
    return True


def at_most_once(function: Callable[..., dict]) -> Callable[..., dict]:
    """Run ``function`` at most once per job id (see the module docstring).

    Called outside a job (a test, a shell), it simply runs.
    """

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        job = get_current_job()
        if job is None:
            return function(*args, **kwargs)
        connection = job.connection
        if connection.exists(done_key(job.id)):
            log.info("already done, not running again job_id=%s", job.id)
            return {"already_done": True}
        worker_name = job.worker_name or "-"
        if not connection.set(claim_key(job.id), owner(worker_name, os.getpid()), nx=True, ex=claim_ttl(job)):
            raise AnotherRunIsRunning("another attempt of this job is still running; it will be checked again")
        try:
            result = function(*args, **kwargs)
        except BaseException:
            # Not done: a retry may try again at once.
            release(connection, job.id, worker_name, os.getpid())
            raise
        done_at = datetime.now(UTC).isoformat()
        DONE_MARKER_WRITE_RETRY.call_with_retry(
            lambda: connection.set(done_key(job.id), done_at, ex=DONE_MARKER_TTL),
            lambda error: log.warning("could not record that the job is done yet, retrying job_id=%s error=%s", job.id, error),
        )
        return result

    return guarded
