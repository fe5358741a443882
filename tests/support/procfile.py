"""Runs the Procfile's own commands, the way Heroku and honcho would."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.support.processes import PROJECT_ROOT, Process


def read_procfile(path: Path = PROJECT_ROOT / "Procfile") -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def start_process_type(name: str, env: Mapping[str, str], log_path: Path, procfile: Path = PROJECT_ROOT / "Procfile") -> Process:
    # Heroku runs each line with bash, expanding $PORT and friends.
    return Process(["bash", "-c", "exec " + read_procfile(procfile)[name]], env, log_path)
