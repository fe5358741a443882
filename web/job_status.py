"""What the status page and the API say about a job: common fields, and those it declares (jobs/core/presentation.py)."""

import re
from datetime import datetime

from rq.exceptions import NoSuchJobError
from rq.job import Job

from jobs.core.presentation import GENERIC, presentation_of
from web import app_resources

# Anything else cannot be an id of ours: a 404 without a Redis round trip.
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

FINAL_STATUSES = frozenset({"finished", "failed", "stopped", "canceled"})
# The last attempt's reason while it waits to retry, the final one after.
STATUSES_WITH_ERROR = frozenset({"failed", "scheduled", "stopped"})


def find_job(job_id: str) -> Job | None:
    if not JOB_ID.match(job_id):
        return None
    try:
        return Job.fetch(job_id, connection=app_resources.redis())
    except NoSuchJobError:
        return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None  # RQ's datetimes are UTC, with tzinfo


def _display_fields(job: Job, display) -> dict:
    try:
        return dict(display(*(job.args or ()), **(job.kwargs or {})))
    except TypeError:  # enqueued with arguments the function does not take: it fails too
        return {}


def _title(title: str, display: dict) -> str:
    try:
        return title.format_map(display)
    except (KeyError, IndexError, ValueError):  # no display fields to fill it with
        return GENERIC.title


def status_fields(job: Job) -> dict:
    """The job's own fields come first, so the common ones always win."""
    presentation = presentation_of(job)
    status = job.get_status(refresh=False) or "queued"
    status = getattr(status, "value", status)
    display = _display_fields(job, presentation.display)
    common = {
        "id": job.id,
        "status": status,
        "label": presentation.labels.get(status, status.title()),
        "final": status in FINAL_STATUSES,
        "enqueued_at": _iso(job.enqueued_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        "error": job.meta.get("error") if status in STATUSES_WITH_ERROR else None,
        "attempts": job.meta.get("attempts", 0),
    }
    return {
        **display,
        **common,
        "title": _title(presentation.title, display),
        "display": [name for name in display if name not in common],
    }
