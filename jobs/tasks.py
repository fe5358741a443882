"""The example job: email someone the first N Fibonacci numbers.

README "Add your own job" shows how to write another: a function guarded with
``@at_most_once`` (jobs/core/at_most_once.py) if it has a side effect, enqueued
with ``enqueue`` (jobs/core/enqueue_policy.py).
"""

from __future__ import annotations

import logging

from rq import Queue
from rq.job import Job

from jobs.core.at_most_once import at_most_once
from jobs.core.enqueue_policy import enqueue
from jobs.core.presentation import presented_as
from jobs.core.privacy import mask_email
from jobs.core.settings import Settings
from jobs.core.worker_resources import worker_mailer, worker_settings
from jobs.email_content import fibonacci_email

log = logging.getLogger(__name__)


class InvalidJobArguments(ValueError):
    """The job was enqueued with arguments it can never succeed with; the message says which, fit to show."""

    permanent = True

    @property
    def user_message(self) -> str:
        return str(self)


@presented_as(
    title="Your {length} Fibonacci numbers",
    display=lambda recipient, length: {"length": length},
    labels={"started": "Sending", "finished": "Sent"},
    timed_out="sending took too long",
    abandoned="the worker stopped while sending (it was restarted or ran out of memory)",
    interrupted="the worker was restarted while sending",
)
@at_most_once
def send_fibonacci_email(recipient: str, length: int) -> dict:
    """Email ``recipient`` the first ``length`` Fibonacci numbers (once, even
    if the job runs again: see jobs/core/at_most_once.py)."""
    settings = worker_settings()
    if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= settings.max_sequence_length:
        raise InvalidJobArguments(f"length must be a whole number from 1 to {settings.max_sequence_length}")
    worker_mailer().send(fibonacci_email(settings.mail_from, recipient, length))
    log.info("email sent to=%s length=%d", mask_email(recipient), length)
    return {"length": length}


def enqueue_fibonacci_email(
    queue: Queue,
    settings: Settings,
    recipient: str,
    length: int,
    meta: dict | None = None,
    job_id: str | None = None,
    unique: bool = False,
) -> Job:
    description = f"send_fibonacci_email(to={mask_email(recipient)}, length={length})"
    return enqueue(
        queue, settings, send_fibonacci_email, recipient, length, description=description, meta=meta, job_id=job_id, unique=unique
    )
