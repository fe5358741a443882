"""What the worker tells the logs and Sentry about each job. sentry-sdk's RQ integration never sees a
killed work-horse or an abandoned job (no exception is raised); these report them (docs/operating.md "Sentry")."""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import sentry_sdk
from rq.exceptions import AbandonedJobError, DeserializationError
from rq.job import Job
from sentry_sdk.utils import event_from_exception

from jobs.core import log_context

log = logging.getLogger(__name__)


class WorkHorseKilled(RuntimeError):
    """The process running a job died without raising (a signal, or out of memory)."""


def _request_id(job: Job) -> str | None:
    try:
        return job.meta.get("request_id")
    except DeserializationError:
        return None


def function_name(job: Job) -> str:
    try:
        return job.func_name
    except DeserializationError:
        return "<unreadable job>"


def job_tags(job: Job) -> dict[str, str]:
    tags = {"job_id": job.id, "queue": job.origin, "function": function_name(job), "request_id": _request_id(job)}
    return {name: value for name, value in tags.items() if value}


@contextmanager
def job_context(job: Job) -> Iterator[None]:
    with log_context.bound(job_id=job.id, request_id=_request_id(job)), sentry_sdk.isolation_scope() as scope:
        scope.set_tags(job_tags(job))
        yield


def _capture(job: Job, error: BaseException) -> None:
    options, mechanism = sentry_sdk.get_client().options, {"type": "rq", "handled": False}
    event, hint = event_from_exception((type(error), error, None), client_options=options, mechanism=mechanism)
    with sentry_sdk.new_scope() as scope:
        scope.set_tags(job_tags(job))
        sentry_sdk.capture_event(event, hint=hint)


def report_killed_work_horse(job: Job, ret_val: int | None) -> None:
    """Report a job whose work-horse died, unless RQ is about to retry it."""
    if job.should_retry:
        return
    how = f"by signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else f"with status {ret_val}"
    # No job id in the message: Sentry groups events by it.
    _capture(job, WorkHorseKilled(f"the work-horse running {function_name(job)} died {how} (killed, or out of memory)"))


def report_abandoned_job(job: Job, exc_type, exc_value, traceback) -> bool:
    """RQ exception handler: report a job found abandoned, unless it will be retried. True lets later handlers run."""
    if issubclass(exc_type, AbandonedJobError) and not job.should_retry:
        with log_context.bound(job_id=job.id, request_id=_request_id(job)):
            log.warning("job abandoned by a worker that died, failing it for good")
        _capture(job, AbandonedJobError(f"{function_name(job)} was abandoned: its worker stopped (killed, or out of memory)"))
    return True


class JobContextMixin:
    """Every log line and Sentry event while a job runs carries its job_id and request_id
    (``execute_job`` runs before the fork, so the work-horse inherits them)."""

    def execute_job(self, job: Job, queue) -> None:
        with job_context(job):
            logging.getLogger("worker").info("job started function=%s retries_left=%s", function_name(job), job.retries_left)
            super().execute_job(job, queue)
