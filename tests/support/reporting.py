"""Figures and logs from the lifecycle tests (deploys, Redis restarts, boot order).

Figures are printed (``pytest -rP`` shows the captured output of passing
tests) and written to ``<tmp_path>/figures-<name>.json``, so a run can be
compared with the last without scraping the terminal. Process logs go in the
assertion messages, so a failure in CI explains itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from tests.support.processes import Process, wait_for
from tests.support.redis_server import RedisServer

T = TypeVar("T")

# Enough of each log to see what a process did last, without burying the
# assertion under a load test's access log (the whole file stays in tmp_path).
LOG_TAIL_LINES = 150


def report_figures(name: str, figures: dict, tmp_path: Path) -> Path:
    path = tmp_path / f"figures-{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n")
    print(f"\nfigures {name}: {json.dumps(figures, sort_keys=True, default=str)}")
    return path


def logs(*processes: Process | RedisServer) -> str:
    """The end of each process's log, with the path to all of it."""
    sections = []
    for process in processes:
        if process.log_path is None:
            continue
        lines = process.log_path.read_text(errors="replace").splitlines() if process.log_path.exists() else []
        shown = lines[-LOG_TAIL_LINES:]
        skipped = f" (last {len(shown)} of {len(lines)} lines)" if len(lines) > len(shown) else ""
        sections.append(f"--- {process.log_path}{skipped} ---\n" + "\n".join(shown))
    return "\n" + "\n".join(sections)


def wait_for_showing_logs(
    condition: Callable[[], T],
    processes: Iterable[Process],
    timeout: float,
    what: str,
    interval: float = 0.05,
    also: Iterable = (),
    progress: Callable[[], object] | None = None,
) -> T:
    """``wait_for`` (``progress`` as there), failing with the logs of ``processes``
    (and of ``also``, a Redis server say) as they are at the timeout, and at
    once if one of ``processes`` exits meanwhile."""
    processes = list(processes)
    shown = [*processes, *also]
    exited: list[Process] = []

    def met_or_exited():
        exited.extend(process for process in processes if process.popen.poll() is not None)
        return bool(exited) or condition()

    try:
        result = wait_for(met_or_exited, timeout=timeout, interval=interval, what=what, progress=progress)
    except TimeoutError as error:
        raise AssertionError(f"{error}{logs(*shown)}") from None
    if exited:
        raise AssertionError(f"{', '.join(str(process.log_path) for process in exited)} exited while waiting for {what}{logs(*shown)}")
    return result
