"""Find an RQ worker's work-horse, to kill it the way the kernel's OOM killer would."""

from __future__ import annotations

import os

from tests.support.processes import children_by_parent


def work_horse_of(worker_pid: int) -> int | None:
    """RQ's work-horse calls setpgrp(): the child that leads its own process group
    (the scheduler, the worker's other child, does not)."""
    for child in children_by_parent().get(worker_pid, []):
        try:
            if os.getpgid(child) == child:
                return child
        except ProcessLookupError:
            continue
    return None
