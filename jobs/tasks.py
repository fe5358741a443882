"""The background jobs: what the worker runs, and how the web enqueues it.

To add your own job, write a function here (or in a module next to this one)
that takes JSON-friendly arguments, and enqueue it with :func:`enqueue` the way
:func:`enqueue_fibonacci_email` does. The README's "Add your own job" section
walks through it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as RedisRetry
from rq import Callback, Queue, Retry, get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from jobs.core import log_context
from jobs.core.mail import Mailer, mailer_from_settings
from jobs.core.privacy import mask_email
from jobs.core.settings import Settings, load_settings
from jobs.email_content import fibonacci_email

log = logging.getLogger(__name__)

# Finished jobs stay visible on their status page for a day, failed ones for a
# week (RQ's default keeps finished jobs only 500 s).
RESULT_TTL = 24 * 60 * 60
FAILURE_TTL = 7 * 24 * 60 * 60
# How long we remember that a job's email was handed to the provider.
SENT_MARKER_TTL = FAILURE_TTL
# Seconds a run holds its claim to send (see send_fibonacci_email).
SENDING_CLAIM_TTL = 60
# Once the provider has accepted an email, recording that is what stops a
# rerun from sending it again: keep trying through a Redis restart or
# failover (about 40 s in all) rather than give up at the first error.
SENT_MARKER_WRITE_RETRY = RedisRetry(
    ExponentialBackoff(cap=5, base=0.25), retries=12, supported_errors=(RedisConnectionError, RedisTimeoutError)
)


class AnotherRunIsSending(RuntimeError):
    """Another run of this same job holds the claim to send it. Not
    permanent: if that run fails or dies, a retry of this job sends."""

    permanent = False


class InvalidJobArguments(ValueError):
    """The job was enqueued with arguments it can never succeed with."""

    permanent = True


@lru_cache(maxsize=1)
def worker_settings() -> Settings:
    """Settings for code running inside the worker, read once per process."""
    return load_settings()


@lru_cache(maxsize=1)
def worker_mailer() -> Mailer:
    return mailer_from_settings(worker_settings())


def sent_marker_key(job_id: str) -> str:
    return f"fibtastic:sent:{job_id}"


def sending_claim_key(job_id: str) -> str:
    return f"fibtastic:sending:{job_id}"


def send_fibonacci_email(recipient: str, length: int) -> dict:
    """Email ``recipient`` the first ``length`` Fibonacci numbers.

    A job can run more than once: after a deploy interrupts it, or when its
    worker dies and RQ finds it abandoned. A marker written right after the
    provider accepts the email makes a rerun skip the send instead of mailing
    the user twice.
    """
    settings = worker_settings()
    if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= settings.max_sequence_length:
        raise InvalidJobArguments(f"length must be a whole number from 1 to {settings.max_sequence_length}")
    job = get_current_job()
    marker = sent_marker_key(job.id) if job else None
    if marker and job.connection.exists(marker):
        log.info("email already sent, not sending again job_id=%s", job.id)
        return {"length": length, "already_sent": True}
    # The same job can be running twice at once (its id pushed onto the
    # queue twice). Only the run that claims it sends; the other fails and is
    # retried later, when it finds the sent marker (or, should the sender
    # have failed, sends). A run that dies leaves its claim behind: the worker
    # releases it when it sees its work-horse killed (worker/__main__.py),
    # and otherwise it lapses before RQ can find the job abandoned (heartbeat
    # + 60 s or more).
    claim = sending_claim_key(job.id) if job else None
    if claim and not job.connection.set(claim, job.worker_name or "-", nx=True, ex=SENDING_CLAIM_TTL):
        raise AnotherRunIsSending("another attempt of this job is still sending; it will be checked again")

    email = fibonacci_email(settings.mail_from, recipient, length)
    try:
        worker_mailer().send(email)
    except BaseException:
        if claim:  # not sent: a retry may try again at once
            job.connection.delete(claim)
        raise
    if marker:
        sent_at = datetime.now(UTC).isoformat()
        SENT_MARKER_WRITE_RETRY.call_with_retry(
            lambda: job.connection.set(marker, sent_at, ex=SENT_MARKER_TTL),
            lambda error: log.warning("could not record the send yet, retrying job_id=%s error=%s", job.id, error),
        )
    log.info("email sent to=%s length=%d", mask_email(recipient), length)
    return {"length": length, "already_sent": False}


def release_sending_claim(job: Job) -> None:
    """For the worker, when the process running ``job`` died: its claim to
    send must not hold up the retry."""
    job.connection.delete(sending_claim_key(job.id))


def failure_reason(exc_type: type[BaseException], exc_value: BaseException | None) -> str:
    """A reason for the status page: specific for known failures, vague for bugs."""
    if getattr(exc_value, "permanent", None) is not None:  # MailError, InvalidJobArguments
        return str(exc_value)
    if issubclass(exc_type, AbandonedJobError):
        return "the worker stopped while sending (it was restarted or ran out of memory)"
    if issubclass(exc_type, JobTimeoutException):
        return "sending took too long"
    if exc_type.__name__ == "ShutDownImminentException":
        return "the worker was restarted while sending"
    # Details of unexpected errors go to the logs and Sentry, not to users.
    return f"an unexpected error occurred ({exc_type.__name__})"


def record_failure(job: Job, connection: Redis, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: runs after every failed attempt, before RQ decides to retry.

    It stores a readable reason for the status page and stops retries for
    failures that cannot pass (a refused recipient, a bad API key), so users
    learn at once instead of after four retries.
    """
    job.meta["error"] = failure_reason(exc_type, exc_value)
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
) -> Job:
    """Enqueue ``function(*args)`` with this project's retry and TTL policy.

    ``description`` is what RQ logs and the dashboard shows for the job
    (by default the call with its arguments): keep personal data out of it.
    Inside a web request the job's ``meta["request_id"]`` is that request's id,
    so the worker's log lines for the job carry it too.
    """
    intervals = list(settings.retry_intervals)
    request_id = log_context.current_request_id()
    if request_id:
        meta = {"request_id": request_id, **(meta or {})}
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
    )
    log.info("job enqueued job_id=%s queue=%s description=%s", job.id, queue.name, job.description)
    return job


def enqueue_fibonacci_email(
    queue: Queue, settings: Settings, recipient: str, length: int, meta: dict | None = None, job_id: str | None = None
) -> Job:
    description = f"send_fibonacci_email(to={mask_email(recipient)}, length={length})"
    return enqueue(queue, settings, send_fibonacci_email, recipient, length, description=description, meta=meta, job_id=job_id)
