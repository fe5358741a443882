"""Reading a worker's log."""

from __future__ import annotations

# worker/__main__.py's line for each attempt to reach Redis that failed.
WAITING_FOR_REDIS = 'logger=worker msg="waiting for redis'


def waiting_for_redis_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if WAITING_FOR_REDIS in line]
