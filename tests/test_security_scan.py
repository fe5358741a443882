"""bandit, the security linter, over the app's code (config in pyproject.toml)."""

import subprocess
import sys

from tests.support.processes import PROJECT_ROOT

SCANNED = ["jobs", "web", "worker", "devmail", "scripts", "gunicorn.conf.py"]


def test_bandit_finds_nothing():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-c",
            "pyproject.toml",
            "-r",
            # The code that ships, not whatever else lies in the checkout
            # (virtualenvs, the Heroku CLI's node_modules, caches).
            *SCANNED,
            "--quiet",
            "--format",
            "custom",
            "--msg-template",
            "{relpath}:{line}: {test_id} {severity} {msg}",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
