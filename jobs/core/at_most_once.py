"""``@at_most_once``: a side effect (an email, a charge) happens at most once per job id, though RQ runs a
job at least once. README "Guarantees" explains the done marker, the claim, and the one gap no guard closes."""

import functools
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry as RedisRetry
from rq import Queue, get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from jobs.core.connection import REDIS_DOWN

log = logging.getLogger(__name__)

# The done marker is a field of the job's own hash (rq:job:<id>), not a key of its own: it must outlive every
# rerun of the job, and every rerun (a retry, an abandoned job retried, `rq requeue` of a failed job, its id
# pushed twice) needs that hash, so the marker lives exactly as long as the job, whatever RQ's TTLs say, and
# costs a field instead of a key. RQ writes its hash field by field (HSET in Job.save, save_meta,
# prepare_for_execution, heartbeat, set_status) and deletes it only whole, with the job (Job.delete).
DONE_FIELD = "fibtastic_done_at"
# RQ kills a work-horse 60 s past its job's timeout (monitor_work_horse), so no run outlives this margin.
CLAIM_MARGIN = 60
# A job enqueued with job_timeout=-1 (no timeout) has no such bound.
CLAIM_TTL_WITHOUT_TIMEOUT = 24 * 60 * 60
# Once the side effect took place, only the marker stops a rerun repeating it: keep trying through a
# Redis restart or failover (about 40 s in all).
DONE_MARKER_WRITE_RETRY = RedisRetry(ExponentialBackoff(cap=5, base=0.25), retries=12, supported_errors=REDIS_DOWN)

# Records the side effect done only in a job that still exists: an HSET on a job deleted meanwhile would leave a
# hash with nothing but the marker, and no TTL (RQ guards its heartbeat against the same, rq/rq#1450).
_MARK_DONE = """
if redis.call('exists', KEYS[1]) == 1 then return redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) end
return -1
"""

# Deletes the claim only if it holds this worker name and, unless ARGV[2] is empty (the whole worker died), this pid.
_RELEASE = """
local worker, pid = string.match(redis.call('get', KEYS[1]) or '', '^(.*)/(%d+)$')
if worker == ARGV[1] and (ARGV[2] == '' or pid == ARGV[2]) then return redis.call('del', KEYS[1]) end
return 0
"""


class AnotherRunIsRunning(RuntimeError):
    """Another run of this same job holds the claim; if that run fails or dies, a retry does the work."""

    user_message = "another attempt of this job is still running; it will be checked again"


def claim_key(job_id: str) -> str:
    return f"fibtastic:once:claim:{job_id}"


def is_done(connection: Redis, job_id: str) -> bool:
    """Whether a run of ``job_id`` recorded its side effect done."""
    return bool(connection.hexists(Job.key_for(job_id), DONE_FIELD))


def mark_done(connection: Redis, job_id: str, done_at: str) -> bool:
    """Record in the job ``job_id`` that its side effect took place at ``done_at``; False if there is no such job."""
    script = connection.register_script(_MARK_DONE)
    return script(keys=[Job.key_for(job_id)], args=[DONE_FIELD, done_at]) != -1


def owner(worker_name: str, pid: int) -> str:
    return f"{worker_name}/{pid}"


def claim_ttl(job: Job) -> int:
    return CLAIM_TTL_WITHOUT_TIMEOUT if job.timeout == -1 else int(job.timeout or Queue.DEFAULT_TIMEOUT) + CLAIM_MARGIN


def release(connection: Redis, job_id: str, worker_name: str, pid: int | None = None) -> bool:
    """Delete the claim on ``job_id`` if ``worker_name`` (and ``pid``, if given) holds it; True if deleted."""
    script = connection.register_script(_RELEASE)
    return bool(script(keys=[claim_key(job_id)], args=[worker_name, "" if pid is None else str(pid)]))


def release_dead_run(job: Job, worker_name: str | None, pid: int | None = None) -> None:
    """The run of ``job`` by ``worker_name`` (in ``pid``, if known) died: its claim must not hold up the retry."""
    if worker_name and release(job.connection, job.id, worker_name, pid):
        log.info("released the claim of a run that died job_id=%s", job.id)


def release_abandoned_claim(job: Job, exc_type, exc_value, traceback) -> bool:
    """RQ exception handler: ``job.worker_name`` is still the dead worker's. True lets the next handler run."""
    if issubclass(exc_type, AbandonedJobError):
        release_dead_run(job, job.worker_name)
    return True


def at_most_once(function: Callable[..., dict]) -> Callable[..., dict]:
    """Run ``function`` once per job id: a rerun that finds the done marker returns ``{"already_done": True}``;
    one that finds another run's claim raises :class:`AnotherRunIsRunning` (retried later)."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        job = get_current_job()
        if job is None:  # outside a job (a test, a shell)
            return function(*args, **kwargs)
        connection = job.connection
        if is_done(connection, job.id):
            log.info("already done, not running again job_id=%s", job.id)
            return {"already_done": True}
        worker_name = job.worker_name or "-"
        if not connection.set(claim_key(job.id), owner(worker_name, os.getpid()), nx=True, ex=claim_ttl(job)):
            raise AnotherRunIsRunning(AnotherRunIsRunning.user_message)
        try:
            result = function(*args, **kwargs)
        except BaseException:
            release(connection, job.id, worker_name, os.getpid())
            raise
        done_at = datetime.now(UTC).isoformat()
        DONE_MARKER_WRITE_RETRY.call_with_retry(
            lambda: mark_done(connection, job.id, done_at),
            lambda error: log.warning("could not record that the job is done yet, retrying job_id=%s error=%s", job.id, error),
        )
        return result

    return guarded
