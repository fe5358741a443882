"""Find an RQ worker's work-horse, to kill it the way the kernel's OOM killer would."""

from __future__ import annotations

import os
from pathlib import Path


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def work_horse_of(worker_pid: int) -> int | None:
    """RQ's work-horse calls setpgrp(): the child that leads its own process group
    (the scheduler, the worker's other child, does not)."""
    for child in children_of(worker_pid):
        try:
            if os.getpgid(child) == child:
                return child
        except ProcessLookupError:
            continue
    return None
