"""How every job is enqueued: retries, timeouts, how long results are kept,
the failure reason users see, and the request id in the job's meta.

Enqueue your jobs with :func:`enqueue` and they all behave alike.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import AbandonedJobError, ShutDownImminentException
from rq.job import Job
from rq.timeouts import JobTimeoutException

from jobs.core import log_context
from jobs.core.presentation import presentation_of
from jobs.core.settings import Settings

# How long a job stays in Redis once it ends, and with it its status page, its Idempotency-Key and its
# @at_most_once record; RQ's results stream (rq:results:<id>, about 4.7 KB even for one small entry) lives
# exactly as long, since RQ 3.0 writes it on every success with the job's result_ttl and only result_ttl=0
# (the job deleted at once) skips it. docs/redis-plans.md has what the plans hold with these.
# A finished job: an hour. Its page polls until the job ends, at most ~15 minutes through every retry, and
# an hour after that the link still works; Redis then holds one hour of sent jobs, so mini holds 20,000 a
# day with room for a busy hour (kept a day, jobs filled mini at under 3,000 a day).
RESULT_TTL = 60 * 60
# A failed job: 3 days, to be seen (Sentry, /healthz, failed_jobs list) and requeued after a weekend. Each
# holds ~6.8 KB for that long, the cost of ~70 sent ones; a mail provider's outage fails every submission,
# and `rq requeue` after it both sends them and frees the memory sooner.
FAILURE_TTL = 3 * 24 * 60 * 60


def failure_reason(job: Job, exc_type: type[BaseException], exc_value: BaseException | None) -> str:
    """A reason for the status page, which anyone with the job's link sees: an exception's own ``user_message``
    (MailError's kinds, AnotherRunIsRunning, your own), the job's wording (jobs/core/presentation.py) for what
    RQ ends a run with, else vague. Never ``str(exc)``: it may name hosts, addresses and the provider's reply,
    which go to the logs (RQ logs every failure) and Sentry instead."""
    user_message = getattr(exc_value, "user_message", None)
    if isinstance(user_message, str) and user_message:
        return user_message
    presentation = presentation_of(job)
    if issubclass(exc_type, AbandonedJobError):
        return presentation.abandoned
    if issubclass(exc_type, JobTimeoutException):
        return presentation.timed_out
    if issubclass(exc_type, ShutDownImminentException):
        return presentation.interrupted
    # Details of unexpected errors go to the logs and Sentry, not to users.
    return f"an unexpected error occurred ({exc_type.__name__})"


def record_failure(job: Job, connection: Redis, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: runs after every failed attempt, before RQ decides to retry.

    It stores a readable reason for the status page and stops retries for
    failures that cannot pass (an exception with ``permanent = True``: a
    refused recipient, a bad API key), so users learn at once instead of
    after four retries.
    """
    job.meta["error"] = failure_reason(job, exc_type, exc_value)
    job.meta["attempts"] = job.meta.get("attempts", 0) + 1
    job.save_meta()
    if getattr(exc_value, "permanent", False):
        job.retries_left = 0


def enqueue(
    queue: Queue,
    settings: Settings,
    function,
    *args,
    description: str | None = None,
    meta: dict | None = None,
    job_id: str | None = None,
    unique: bool = False,
) -> Job:
    """Enqueue ``function(*args)`` with this project's retry and TTL policy.

    ``description`` is what RQ logs and the dashboard shows for the job
    (by default the call with its arguments): keep personal data out of it.
    Inside a web request the job's ``meta["request_id"]`` is that request's id,
    so the worker's log lines for the job carry it too. With ``unique``, RQ
    raises ``DuplicateJobError`` instead if a job with ``job_id`` exists.
    """
    intervals = list(settings.retry_intervals)
    request_id = log_context.current_request_id()
    if request_id:
        meta = {"request_id": request_id, **(meta or {})}
    # RQ's enqueue on its own takes two round trips to Redis (registering the
    # queue, then storing and pushing the job); given a pipeline it queues
    # both and leaves the one EXEC to us.
    with queue.connection.pipeline() as pipeline:
        job = queue.enqueue(
            function,
            *args,
            retry=Retry(max=len(intervals), interval=intervals),
            job_timeout=settings.job_timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            on_failure=Callback(record_failure),
            description=description,
            meta=meta or {},
            job_id=job_id,
            unique=unique,
            pipeline=pipeline,
        )
        pipeline.execute()
    # Under the job's own module, so one logger name follows a job from its
    # enqueue to its last line in the worker.
    logging.getLogger(job.func_name.rpartition(".")[0]).info(
        "job enqueued job_id=%s queue=%s description=%s", job.id, queue.name, job.description
    )
    return job
