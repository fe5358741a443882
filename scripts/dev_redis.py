"""Redis for `make dev`: use the one at REDIS_URL if it answers, else start one.

honcho stops every process when one exits, so when a Redis is already running
this process just waits for Ctrl-C instead of exiting.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from urllib.parse import urlsplit

import redis

from jobs.connection import connect_redis
from jobs.settings import load_settings


def redis_answers(url: str) -> bool:
    try:
        return bool(connect_redis(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def main() -> int:
    url = load_settings().redis_url
    if redis_answers(url):
        print(f"dev-redis: using the Redis already running at {url}", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    parts = urlsplit(url)
    if parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        print(f"dev-redis: nothing answers at {url}, and it is not on this machine", file=sys.stderr, flush=True)
        return 1
    executable = shutil.which("redis-server")
    if executable is None:
        print("dev-redis: no Redis at REDIS_URL and no redis-server on PATH (apt-get install redis-server)", file=sys.stderr)
        return 1
    port = str(parts.port or 6379)
    print(f"dev-redis: starting {executable} on port {port} (data is not saved)", flush=True)
    directory = tempfile.mkdtemp(prefix="fibtastic-dev-redis-")
    # exec: honcho's Ctrl-C then reaches redis-server itself.
    os.execv(executable, [executable, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory])  # noqa: S606  # nosec B606 - a fixed binary from PATH, no shell


if __name__ == "__main__":
    sys.exit(main())
