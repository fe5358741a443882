"""See and clear failed jobs from a terminal; RQ's ``rq`` command has no such command.

    python -m jobs.core.failed_jobs list              # id, when, attempts, reason, description
    python -m jobs.core.failed_jobs clear JOB_ID...   # delete these failed jobs
    python -m jobs.core.failed_jobs clear --all       # delete every failed job

To retry, use RQ's own ``rq requeue`` (README, "Operating it").
"""

import argparse
import sys

from rq.job import Job

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.core.privacy import mask_emails_in
from jobs.core.settings import load_settings


def summary_line(job: Job) -> str:
    ended = job.ended_at.isoformat(timespec="seconds") if job.ended_at else "-"
    attempts = job.meta.get("attempts", "?")
    reason = job.meta.get("error") or "-"
    return mask_emails_in(f"{job.id}  failed={ended}  attempts={attempts}  reason={reason!r}  {job.description}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.core.failed_jobs", description="List or delete FibTastic's failed jobs.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list failed jobs, oldest first")
    clear = commands.add_parser("clear", help="delete failed jobs")
    clear.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    clear.add_argument("--all", action="store_true", help="delete every failed job")
    options = parser.parse_args(argv)

    settings = load_settings()
    registry = get_queue(connect_redis(redis_client_url(settings)), settings).failed_job_registry
    if options.command == "list":
        job_ids = registry.get_job_ids()
        for job in Job.fetch_many(job_ids, connection=registry.connection):
            if job is not None:
                print(summary_line(job))
        print(f"{len(job_ids)} failed job(s) in queue {settings.queue_name}")
        return 0

    if options.all == bool(options.job_ids):
        parser.error("clear takes job ids or --all (not both)")
    known = set(registry.get_job_ids())
    job_ids = list(known) if options.all else options.job_ids
    missing = [job_id for job_id in job_ids if job_id not in known]
    for job_id in known.intersection(job_ids):
        registry.remove(job_id, delete_job=True)
    print(f"deleted {len(job_ids) - len(missing)} failed job(s)")
    if missing:
        print("not failed jobs (nothing done): " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
