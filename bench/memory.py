"""Memory of a process tree as the dyno's memory cgroup sees it, and where it goes.

PSS (proportional set size) shares each page out among the processes mapping
it, so PSS summed over a dyno's processes is its real footprint; USS (unique
set size) is what a process alone holds, what another forked process of the
same kind adds. Both from psutil's memory_full_info (/proc/<pid>/smaps).
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

MIB = 1024 * 1024


@dataclass
class ProcessMemory:
    pid: int
    role: str
    rss: float
    pss: float
    uss: float
    heap_uss: float  # private pages of anonymous mappings ([heap], pymalloc arenas): Python objects


def _role(process: psutil.Process, root: int) -> str:
    if process.pid == root:
        return "parent"
    return " ".join(process.cmdline()[:3])[:60] or process.name()


def _heap_uss(process: psutil.Process) -> float:
    private = 0
    for mapping in process.memory_maps(grouped=True):
        if not mapping.path.startswith("/") or mapping.path.startswith("/dev/"):  # [heap], [anon], [stack]
            private += mapping.private_clean + mapping.private_dirty
    return private / MIB


def tree(pid: int) -> list[ProcessMemory]:
    root = psutil.Process(pid)
    members = []
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
            members.append(
                ProcessMemory(process.pid, _role(process, pid), info.rss / MIB, info.pss / MIB, info.uss / MIB, _heap_uss(process))
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return members


def totals(members: list[ProcessMemory]) -> dict:
    return {
        "processes": len(members),
        "rss": sum(member.rss for member in members),
        "pss": sum(member.pss for member in members),
        "uss": sum(member.uss for member in members),
    }
