"""How a job presents itself on its status page, in the API and in its failure reasons: generic wording, or
the function's own ``@presented_as`` (README "Add your own job"). ``display`` maps the job's arguments to
the fields shown (and in the API's JSON), never personal data; ``title`` is formatted with them."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rq.exceptions import DeserializationError
from rq.job import Job

# Any other status is shown title-cased (web/job_status.py).
LABELS = {"deferred": "Queued", "scheduled": "Waiting to retry", "started": "Running", "finished": "Done", "canceled": "Cancelled"}


@dataclass(frozen=True)
class Presentation:
    title: str = "Your job"
    display: Callable[..., dict] = lambda *args, **kwargs: {}
    labels: dict[str, str] = field(default_factory=lambda: dict(LABELS))
    # Failure reasons for what ends a run without an error of the job's own.
    timed_out: str = "the job took too long"
    abandoned: str = "the worker stopped while running the job (it was restarted or ran out of memory)"
    interrupted: str = "the worker was restarted while running the job"


GENERIC = Presentation()


def presented_as(*, labels: dict[str, str] | None = None, **wording) -> Callable:
    """Decorator; anything not given stays generic."""
    presentation = replace(GENERIC, labels={**LABELS, **(labels or {})}, **wording)

    def declare(function: Callable) -> Callable:
        function.presentation = presentation
        return function

    return declare


def presentation_of(job: Job) -> Presentation:
    """Generic when the job names no function that can be imported (``job.func`` imports it)."""
    try:
        function = job.func
    except (ImportError, AttributeError, ValueError, DeserializationError):
        return GENERIC
    return getattr(function, "presentation", GENERIC)
