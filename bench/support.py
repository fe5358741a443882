"""Servers and process helpers for the benchmarks (built on tests/support)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.support.processes import descendant_pids, free_port, port_is_open, wait_for

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CountingSmtpSink:
    """An SMTP server that accepts everything, counts it and notes when each
    recipient's message was accepted; ``delay`` seconds per message."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.count = 0
        self.accepted_at: dict[str, float] = {}
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        accepted = time.monotonic()
        with self.lock:
            self.count += 1
            for recipient in envelope.rcpt_tos:
                self.accepted_at[recipient] = accepted
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def __enter__(self) -> CountingSmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def memory_mib(pid: int) -> tuple[float, float, int]:
    """(sum of RSS, sum of PSS, number of processes) for ``pid`` and its descendants.

    RSS counts pages shared between forked processes once per process, so the
    sum overstates what the dyno uses; PSS shares them out and is closer to
    what Heroku's memory accounting (one cgroup per dyno) sees.
    """
    rss = pss = 0
    processes = 0
    for member in [pid, *descendant_pids(pid)]:
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        processes += 1
        for line in rollup.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss / 1024, pss / 1024, processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` and its descendants, living or reaped.

    CPU per request barely moves when other work shares the machine, unlike
    requests per second, so it compares two servers fairly on a busy one.
    """
    total = 0
    for member in [pid, *descendant_pids(pid)]:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and cutime, cstime: children it has already reaped,
        # such as RQ's work-horses, which no longer show as descendants (proc(5)).
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def wait_for_port(port: int, timeout: float = 30) -> None:
    wait_for(lambda: port_is_open(port), timeout=timeout, what=f"a server on port {port}")
