"""``@at_most_once``: a side effect (an email, a charge) happens at most once per job id, though RQ runs a
job at least once. README "Guarantees" explains the done marker, the claim, and the one gap no guard closes."""

import functools
import logging
import os
import time
from collections.abc import Callable

from redis import Redis
from rq import Queue, get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from jobs.core.connection import REDIS_UNAVAILABLE, redis_problem
from jobs.core.enqueue_policy import FAILURE_TTL

log = logging.getLogger(__name__)

# As long as a failed job, which can be requeued until then.
DONE_MARKER_TTL = FAILURE_TTL
# RQ kills a work-horse 60 s past its job's timeout (monitor_work_horse), so no run outlives this margin.
CLAIM_MARGIN = 60
# A job enqueued with job_timeout=-1 (no timeout) has no such bound.
CLAIM_TTL_WITHOUT_TIMEOUT = 24 * 60 * 60
# Once the side effect took place, only the marker stops a rerun repeating it: while Redis is away, keep
# trying every few seconds for as long as the claim keeps other runs out.
LONGEST_MARKER_PAUSE = 5

# The claim becomes the done marker. RENAME and EXPIRE need no free memory, so a full Redis (noeviction, which
# refuses SET) still records that the side effect took place, and no rerun repeats it once memory frees.
_MARK_DONE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('rename', KEYS[1], KEYS[2])
redis.call('expire', KEYS[2], ARGV[2])
return 1
"""

# Deletes the claim only if it holds this worker name and, unless ARGV[2] is empty (the whole worker died), this pid.
_RELEASE = """
local worker, pid = string.match(redis.call('get', KEYS[1]) or '', '^(.*)/(%d+)$')
if worker == ARGV[1] and (ARGV[2] == '' or pid == ARGV[2]) then return redis.call('del', KEYS[1]) end
return 0
"""


class AnotherRunIsRunning(RuntimeError):
    """Another run of this same job holds the claim; if that run fails or dies, a retry does the work."""

    permanent = False


def claim_key(job_id: str) -> str:
    return f"fibtastic:once:claim:{job_id}"


def done_key(job_id: str) -> str:
    return f"fibtastic:once:done:{job_id}"


def owner(worker_name: str, pid: int) -> str:
    return f"{worker_name}/{pid}"


def claim_ttl(job: Job) -> int:
    return CLAIM_TTL_WITHOUT_TIMEOUT if job.timeout == -1 else int(job.timeout or Queue.DEFAULT_TIMEOUT) + CLAIM_MARGIN


def release(connection: Redis, job_id: str, worker_name: str, pid: int | None = None) -> bool:
    """Delete the claim on ``job_id`` if ``worker_name`` (and ``pid``, if given) holds it; True if deleted."""
    script = connection.register_script(_RELEASE)
    return bool(script(keys=[claim_key(job_id)], args=[worker_name, "" if pid is None else str(pid)]))


def mark_done(connection: Redis, job_id: str, run: str) -> None:
    """The run holding the claim on ``job_id`` did what the job does: turn its claim into the done marker."""
    if not connection.register_script(_MARK_DONE)(keys=[claim_key(job_id), done_key(job_id)], args=[run, DONE_MARKER_TTL]):
        # The claim outlived by a run RQ should have ended (job timeout + 60 s): write the marker anew.
        connection.set(done_key(job_id), run, ex=DONE_MARKER_TTL)


def record_done(connection: Redis, job_id: str, run: str, until: float) -> None:
    """``mark_done``, tried again through a Redis outage until the monotonic time ``until`` (then it raises)."""
    pause = 0.25
    while True:
        try:
            mark_done(connection, job_id, run)
            return
        except REDIS_UNAVAILABLE as error:
            if time.monotonic() + pause >= until:
                raise
            log.warning("could not record that the job is done yet, retrying job_id=%s error=%s", job_id, redis_problem(error))
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_MARKER_PAUSE)


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
        if connection.exists(done_key(job.id)):
            log.info("already done, not running again job_id=%s", job.id)
            return {"already_done": True}
        worker_name = job.worker_name or "-"
        run = owner(worker_name, os.getpid())
        claim_ends = time.monotonic() + claim_ttl(job)
        if not connection.set(claim_key(job.id), run, nx=True, ex=claim_ttl(job)):
            raise AnotherRunIsRunning("another attempt of this job is still running; it will be checked again")
        try:
            result = function(*args, **kwargs)
        except BaseException:
            release(connection, job.id, worker_name, os.getpid())
            raise
        record_done(connection, job.id, run, until=claim_ends)
        return result

    return guarded
