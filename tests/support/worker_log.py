"""Reading a worker's log."""

from __future__ import annotations

# worker/__main__.py's line for each attempt to reach Redis that failed.
WAITING_FOR_REDIS = 'logger=worker msg="waiting for redis'


def waiting_for_redis_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if WAITING_FOR_REDIS in line]


# What a worker logs when it finds Redis gone: RQ's own line while it waits
# for a job, ours while it runs one (or has just sent its email and cannot
# record it yet), waits to start again, or after RQ gave up.
REDIS_LOST = (
    "could not connect to Redis",
    "redis unreachable",
    "could not record that the job is done yet",
    'msg="waiting for redis',
    "lost redis",
)


def redis_lost_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(marker in line for marker in REDIS_LOST)]


def log_events(output: str) -> list[str]:
    """The logfmt lines, one per event (a traceback inside one stays one)."""
    return [line for line in output.splitlines() if line.startswith("at=")]


def traceback_reports(output: str) -> int:
    """Tracebacks reported: in log lines, and printed to stderr outside them
    (as multiprocessing does for a child process that raised), counting an
    exception chain once."""
    lines = output.splitlines()
    logged = sum(1 for line in lines if line.startswith("at=") and "Traceback (most recent call last)" in line)
    printed = 0
    previous = ""
    for line in lines:
        if line.startswith("Traceback (most recent call last)") and not previous.startswith("During handling of the above exception"):
            printed += 1
        if line.strip():
            previous = line
    return logged + printed


def most_jobs_at_once(output: str) -> int:
    """The most jobs running at the same time, from the worker's "job
    started" lines and RQ's "Job OK" lines (jobs that fail never end here)."""
    running: set[str] = set()
    most = 0
    for line in log_events(output):
        if 'msg="job started ' in line:
            running.add(line.rsplit("job_id=", 1)[1].split()[0])
            most = max(most, len(running))
        elif ": Job OK (" in line:
            running.discard(line.split(": Job OK (", 1)[1].split(")", 1)[0])
    return most
