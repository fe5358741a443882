"""The periodic jobs: the one place that says what runs when.

The worker dyno enqueues each job here on its schedule (worker/cron.py runs
RQ's CronScheduler beside the worker), so no extra dyno or process type is
needed. With several worker dynos each tick is still enqueued once.

To add yours, write the job as for any other (README "Add your own job") and
append a :class:`PeriodicJob` to the list below. A schedule is a cron
expression in the dyno's time zone (UTC on Heroku); a sixth field gives
seconds (``* * * * * */30``: every 30 s). Jobs go through the project's
enqueue policy: the same retries, timeouts and failure callback as the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobs.core.settings import Settings
from jobs.queue_report import report_queue


@dataclass(frozen=True)
class PeriodicJob:
    # Unique among periodic jobs: it names the job in the logs and in the
    # key that lets only one worker dyno enqueue each tick.
    name: str
    cron: str
    function: Callable
    args: tuple = ()


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    jobs = []
    # QUEUE_REPORT_SCHEDULE empty or "off": no queue report.
    if settings.queue_report_schedule:
        jobs.append(PeriodicJob("queue-report", settings.queue_report_schedule, report_queue))
    return jobs
