"""``@at_most_once``: a side effect (an email, a charge) happens at most once per job id, though RQ runs a
job at least once. docs/guarantees.md explains the done marker, the claim, and the one gap no guard closes."""

import functools
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis import Redis, RedisError
from rq import Queue, get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from jobs.core.connection import is_outage, redis_problem
from jobs.core.enqueue_policy import FAILURE_TTL

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
# Once the side effect took place, only the marker stops a rerun repeating it: while Redis is away, keep
# trying every few seconds for as long as the claim keeps other runs out.
LONGEST_MARKER_PAUSE = 5

# Records the side effect done only in a job that still exists: an HSET on a job deleted meanwhile would leave a
# hash with nothing but the marker, and no TTL (RQ guards its heartbeat against the same, rq/rq#1450).
# A full Redis (noeviction) refuses the HSET; RENAME and EXPIRE need no memory, so this run's claim becomes a
# marker key of its own instead, kept as long as a failed job, and the email is still never sent twice.
_MARK_DONE = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local stored = redis.pcall('hset', KEYS[1], ARGV[1], ARGV[2])
if type(stored) == 'number' then return 1 end
if redis.call('get', KEYS[2]) ~= ARGV[3] then return stored end
redis.call('rename', KEYS[2], KEYS[3])
redis.call('expire', KEYS[3], ARGV[4])
return 2
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


def done_key(job_id: str) -> str:
    """The marker a run leaves when Redis was full as it recorded the side effect (``_MARK_DONE``)."""
    return f"fibtastic:once:done:{job_id}"


def is_done(connection: Redis, job_id: str) -> bool:
    """Whether a run of ``job_id`` recorded its side effect done."""
    with connection.pipeline(transaction=False) as pipeline:  # one round trip
        in_job, on_its_own = pipeline.hexists(Job.key_for(job_id), DONE_FIELD).exists(done_key(job_id)).execute()
    return bool(in_job or on_its_own)


def mark_done(connection: Redis, job_id: str, done_at: str, run: str = "") -> bool:
    """Record in the job ``job_id`` that its side effect took place at ``done_at`` (if Redis is full, by turning
    the claim of ``run`` into :func:`done_key`); False if there is no such job."""
    script = connection.register_script(_MARK_DONE)
    keys = [Job.key_for(job_id), claim_key(job_id), done_key(job_id)]
    return script(keys=keys, args=[DONE_FIELD, done_at, run, FAILURE_TTL]) != -1


def record_done(connection: Redis, job_id: str, run: str, until: float) -> None:
    """``mark_done``, tried again through a Redis outage until the monotonic time ``until`` (then it raises)."""
    pause = 0.25
    while True:
        try:
            mark_done(connection, job_id, datetime.now(UTC).isoformat(), run)
            return
        except RedisError as error:
            if not is_outage(error) or time.monotonic() + pause >= until:
                raise
            log.warning("could not record that the job is done yet, retrying job_id=%s error=%s", job_id, redis_problem(error))
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_MARKER_PAUSE)


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
        run = owner(worker_name, os.getpid())
        claim_ends = time.monotonic() + claim_ttl(job)
        if not connection.set(claim_key(job.id), run, nx=True, ex=claim_ttl(job)):
            raise AnotherRunIsRunning(AnotherRunIsRunning.user_message)
        try:
            result = function(*args, **kwargs)
        except BaseException:
            release(connection, job.id, worker_name, os.getpid())
            raise
        record_done(connection, job.id, run, until=claim_ends)
        return result

    return guarded
