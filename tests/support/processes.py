"""Helpers for tests that run real processes and servers on free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], T],
    timeout: float = 10,
    interval: float = 0.05,
    what: str = "condition",
    progress: Callable[[], object] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` s.

    With ``progress`` (say, a count of emails delivered), the ``timeout`` s run
    from its last change instead: a wait for hundreds of things takes longer
    on a busy machine, and fails only once nothing moves for ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    seen = progress() if progress else None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as error:  # the thing may not be up yet; keep polling
            last_error = error
        else:
            if result:
                return result
        time.sleep(interval)
        if progress and (now := progress()) != seen:
            seen, deadline = now, time.monotonic() + timeout
    stalled = f" with no progress (at {seen!r})" if progress else ""
    raise TimeoutError(
        f"timed out after {timeout} s{stalled} waiting for {what}" + (f" (last error: {last_error!r})" if last_error else "")
    )


def children_by_parent() -> dict[int, list[int]]:
    """Every living process's pid, grouped by its parent's (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    return parents


def descendant_pids(pid: int) -> list[int]:
    """Every living process below ``pid``. RQ's work-horses call setpgrp(), so
    killing a worker's process group does not reach them."""
    parents = children_by_parent()
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants at once, as Heroku kills a dyno.
    The tree is stopped first (:func:`stop_tree`), so no process sees another
    die and acts on it (a worker reporting its work-horse's death, say, when
    the test is slow to send the next signal) or escapes by being re-parented."""
    return kill_tree_when(pid, lambda: True)


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` in /proc (R, S, D, T, Z...), or None once it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _wait_until_stopped(pid: int) -> None:
    wait_for(lambda: process_state(pid) in (None, "T", "t", "Z"), timeout=10, interval=0.001, what=f"pid {pid} to stop")


def stop_tree(pid: int) -> list[int]:
    """SIGSTOP ``pid``, then every descendant, and wait until all are stopped.
    The parent goes first, so it cannot fork a child that escapes the list."""
    os.kill(pid, signal.SIGSTOP)
    _wait_until_stopped(pid)
    pids = [*descendant_pids(pid), pid]
    for target in pids[:-1]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGSTOP)
    for target in pids:
        _wait_until_stopped(target)
    return pids


def kill_tree_when(pid: int, may_kill: Callable[[], bool], timeout: float = 60, on_defer: Callable[[], None] | None = None) -> list[int]:
    """SIGKILL ``pid`` and its descendants at a moment when ``may_kill()`` is
    true, checked while the whole tree is stopped, so nothing it does can
    change the answer between the check and the kill. When it is false, the
    tree runs on until it is true, and is stopped and checked again."""
    deadline = time.monotonic() + timeout
    while True:
        pids = stop_tree(pid)
        if may_kill():
            for target in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, signal.SIGKILL)
            return pids
        if on_defer:
            on_defer()
        for target in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGCONT)
        wait_for(may_kill, timeout=max(deadline - time.monotonic(), 0.1), interval=0.001, what="a moment to kill")


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def app_environment(**settings: str) -> dict[str, str]:
    """The environment for a web or worker process under test: this one,
    minus anything that would make it talk to real services."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DYNO", "SENDGRID_API_KEY", "SENTRY_DSN", "SMTP_URL", "REDIS_URL", "MAIL_FROM", "SECRET_KEY", "PORT"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    # Procfile commands (gunicorn, python) must come from the test's own
    # virtualenv even when it is not activated, as under `make test`.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(settings)
    return env


class Process:
    """A child process whose output goes to a file the test can read."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path, cwd: Path = PROJECT_ROOT) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(args, env=dict(env), cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def send_signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL the whole process group and every descendant
        (RQ's work-horses leave the group) if they will not go."""
        strays = descendant_pids(self.popen.pid) if self.popen.poll() is None else []
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


def python_process(module_args: list[str], env: Mapping[str, str], log_path: Path) -> Process:
    return Process([sys.executable, *module_args], env, log_path)


def environment_for(settings, **extra: str) -> dict[str, str]:
    """Environment variables that make a web or worker process load ``settings``."""
    values = {
        "REDIS_URL": settings.redis_url,
        "REDIS_VERIFY_CERTIFICATE": "on" if settings.redis_verify_certificate else "off",
        "SMTP_URL": settings.smtp_url,
        "MAIL_FROM": settings.mail_from,
        "SECRET_KEY": settings.secret_key or "",
        "MAX_SEQUENCE_LENGTH": str(settings.max_sequence_length),
        "RETRY_INTERVALS": ",".join(str(seconds) for seconds in settings.retry_intervals),
        "MAIL_TIMEOUT": str(settings.mail_timeout),
        "QUEUE_NAME": settings.queue_name,
        "RATE_LIMIT_PER_IP": settings.rate_limit_per_ip,
        "RATE_LIMIT_PER_RECIPIENT": settings.rate_limit_per_recipient,
        "QUEUE_REPORT_SCHEDULE": settings.queue_report_schedule or "off",
    }
    if settings.sendgrid_api_key:
        values["SENDGRID_API_KEY"] = settings.sendgrid_api_key
        values["SENDGRID_API_HOST"] = settings.sendgrid_api_host
    values.update(extra)
    return app_environment(**values)
