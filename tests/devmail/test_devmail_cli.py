"""``python -m devmail`` as a real process, and its option parsing."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devmail.__main__ import parse_args

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BANNER = re.compile(
    r"devmail: SMTP on (?P<smtp_ip>[\d.]+):(?P<smtp_port>\d+), "
    r"web on (?P<url>http://[\d.]+:(?P<http_port>\d+))"
)


def read_line(process: subprocess.Popen, timeout: float = 10) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("devmail printed nothing in time")
    return process.stdout.readline()


@pytest.fixture
def devmail_process():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEVMAIL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "devmail", "--smtp-port", "0", "--http-port", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_runs_as_a_process_and_stops_cleanly(devmail_process, stop_signal):
    line = read_line(devmail_process)
    match = BANNER.fullmatch(line.strip())
    assert match, line
    smtp_port, http_port = int(match["smtp_port"]), int(match["http_port"])
    assert smtp_port != 0
    assert http_port != 0
    assert match["smtp_ip"] == "127.0.0.1"

    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as client:
        client.sendmail("cli@example.com", ["rcpt@example.com"], "Subject: via cli\r\n\r\nhi\r\n")
    with urllib.request.urlopen(match["url"] + "/messages", timeout=5) as response:
        messages = json.load(response)
    assert [m["subject"] for m in messages] == ["via cli"]

    started = time.monotonic()
    devmail_process.send_signal(stop_signal)
    assert devmail_process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    stderr = devmail_process.stderr.read()
    assert "Traceback" not in stderr, stderr


def test_busy_port_exits_with_1():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "devmail",
                "--smtp-port",
                "0",
                "--http-port",
                str(port),
            ],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "devmail: cannot start:" in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults(monkeypatch):
    for name in ("SMTP_IP", "SMTP_PORT", "HTTP_IP", "HTTP_PORT"):
        monkeypatch.delenv(f"DEVMAIL_{name}", raising=False)
    args = parse_args([])
    assert (args.smtp_ip, args.smtp_port) == ("127.0.0.1", 1025)
    assert (args.http_ip, args.http_port) == ("127.0.0.1", 1080)
    assert args.max_messages == 1000
    assert args.max_size == 32 * 1024 * 1024


def test_environment_variables_and_flags(monkeypatch):
    monkeypatch.setenv("DEVMAIL_SMTP_IP", "127.0.0.2")
    monkeypatch.setenv("DEVMAIL_SMTP_PORT", "2525")
    monkeypatch.setenv("DEVMAIL_HTTP_IP", "127.0.0.3")
    monkeypatch.setenv("DEVMAIL_HTTP_PORT", "8080")
    args = parse_args([])
    assert (args.smtp_ip, args.smtp_port) == ("127.0.0.2", 2525)
    assert (args.http_ip, args.http_port) == ("127.0.0.3", 8080)

    args = parse_args(
        [
            "--smtp-port",
            "0",
            "--http-ip",
            "::1",
            "--max-messages",
            "5",
            "--max-size",
            "9",
        ]
    )
    assert (args.smtp_ip, args.smtp_port) == ("127.0.0.2", 0)
    assert (args.http_ip, args.http_port) == ("::1", 8080)
    assert (args.max_messages, args.max_size) == (5, 9)


@pytest.mark.parametrize("argv", [["--smtp-port", "70000"], ["--http-port", "-1"], ["--max-messages", "0"]])
def test_rejects_bad_values(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2


def test_rejects_a_non_numeric_port_variable(monkeypatch):
    monkeypatch.setenv("DEVMAIL_SMTP_PORT", "smtp")
    with pytest.raises(SystemExit, match="DEVMAIL_SMTP_PORT must be an integer"):
        parse_args([])
