"""The Heroku CLI from npm, installed into a git-ignored folder of the project
(.cache/heroku-cli), never globally. ``heroku local`` needs no login and no
network: it runs the Procfile with its bundled Foreman port."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import PROJECT_ROOT

HEROKU_CLI_VERSION = "11.10.0"
CLI_PREFIX = PROJECT_ROOT / ".cache" / "heroku-cli"
CLI_PACKAGE = CLI_PREFIX / "node_modules" / "heroku"


def unavailable(reason: str):
    """In CI a missing tool is a failure to fix in .ci/run; elsewhere a skip that says why."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def installed_version() -> str | None:
    try:
        return json.loads((CLI_PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install_heroku_cli() -> Path:
    """The path of the CLI's ``bin/run`` script, installing it first if needed
    (one test process at a time: pytest-xdist's workers share the folder)."""
    CLI_PREFIX.mkdir(parents=True, exist_ok=True)
    with open(CLI_PREFIX.parent / "heroku-cli.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return _install_heroku_cli()


def _install_heroku_cli() -> Path:
    if installed_version() != HEROKU_CLI_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so the Heroku CLI (npm package `heroku`) cannot be installed to test `heroku local`")
        if shutil.which("node") is None:
            pytest.skip("node is not installed; the Heroku CLI needs it")
        package = f"heroku@{HEROKU_CLI_VERSION}"
        command = [npm, "install", "--prefix", str(CLI_PREFIX), "--no-audit", "--no-fund", "--loglevel=error", package]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=540)
        except subprocess.TimeoutExpired:
            unavailable(f"`npm install heroku@{HEROKU_CLI_VERSION}` took longer than 9 minutes")
        if result.returncode != 0:
            unavailable(f"`npm install heroku@{HEROKU_CLI_VERSION}` failed (offline?):\n{result.stderr[-2000:]}")
    return CLI_PACKAGE / "bin" / "run.js"


def node_executable() -> str:
    node = shutil.which("node")
    assert node, "node disappeared after the Heroku CLI was installed"
    return node
