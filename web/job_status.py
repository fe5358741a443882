"""What the status page and the API say about a job."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rq.exceptions import NoSuchJobError
from rq.job import Job

from web import app_resources

# RQ job ids are UUID4 hex strings by default; anything else cannot be ours,
# so it 404s without a Redis round trip.
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

LABELS = {
    "queued": "Queued",
    "deferred": "Queued",
    "scheduled": "Waiting to retry",
    "started": "Sending",
    "finished": "Sent",
    "failed": "Failed",
    "stopped": "Stopped",
    "canceled": "Cancelled",
}
FINAL_STATUSES = frozenset({"finished", "failed", "stopped", "canceled"})


def find_job(job_id: str) -> Job | None:
    if not JOB_ID.match(job_id):
        return None
    try:
        return Job.fetch(job_id, connection=app_resources.redis())
    except NoSuchJobError:
        return None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # RQ stores UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def status_fields(job: Job) -> dict:
    status = job.get_status(refresh=False) or "queued"
    status = getattr(status, "value", status)
    args = job.args or ()
    error = job.meta.get("error")
    return {
        "id": job.id,
        "status": status,
        "label": LABELS.get(status, status.title()),
        "final": status in FINAL_STATUSES,
        "length": args[1] if len(args) > 1 else None,
        "enqueued_at": _iso(job.enqueued_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        # The last attempt's reason while it waits to retry, the final one after.
        "error": error if status in ("failed", "scheduled", "stopped") else None,
        "attempts": job.meta.get("attempts", 0),
    }
