"""The periodic jobs, which the worker dyno enqueues on schedule (worker/cron.py), each tick once.

To add yours, write the job as any other (README "Add your own job") and append a :class:`PeriodicJob`.
A schedule is a cron expression in UTC on Heroku; a sixth field gives seconds (``* * * * * */30``).
"""

from collections.abc import Callable
from dataclasses import dataclass

from jobs.core.settings import Settings
from jobs.queue_report import report_queue


@dataclass(frozen=True)
class PeriodicJob:
    # Unique: it names the job in the logs and in the key that lets one dyno enqueue each tick.
    name: str
    cron: str
    function: Callable
    args: tuple = ()


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    jobs = []
    if settings.queue_report_schedule:
        jobs.append(PeriodicJob("queue-report", settings.queue_report_schedule, report_queue))
    return jobs
