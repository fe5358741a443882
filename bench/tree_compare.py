"""Why docs/benchmarks.md's worker figures and issue 11's differ: the same
worker measurement for two checkouts of the project under two Pythons.

    python -m bench.tree_compare TREE=PYTHON [TREE=PYTHON ...]

Each TREE (a checkout, e.g. from `git archive <commit>`) is started with its
own Procfile worker line, WORKER_CONCURRENCY=16, with PYTHON's interpreter
first on PATH; jobs and the SendGrid stand-in (150 ms) come from this
checkout. Prints one line per run: emails/s, summed PSS/USS/RSS, CPU ms per email.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench import memory
from bench.run import enqueue_jobs, fresh_redis, settings_for
from bench.support import cpu_seconds
from tests.support.processes import Process, environment_for, wait_for
from tests.support.redis_server import RedisServer
from tests.support.sendgrid_stub import SendGridStub

WINDOW = 8


def measure(tree: Path, python: Path, redis: RedisServer, stub: SendGridStub) -> dict:
    settings = settings_for(redis, sendgrid_api_key=stub.api_key, sendgrid_api_host=stub.host)
    fresh_redis(redis)
    enqueue_jobs(redis, settings, 2000)
    environment = environment_for(settings, LOG_LEVEL="WARNING", WORKER_CONCURRENCY="16", PYTHONPATH=str(tree))
    environment["PATH"] = f"{python.parent}:{environment['PATH']}"
    before = len(stub.accepted)
    process = Process([str(python), "-m", "worker"], environment, Path(f"/tmp/tree-compare-{python.parent.parent.name}.log"), cwd=tree)
    try:
        wait_for(lambda: len(stub.accepted) - before >= 48, timeout=90, what="warm up")
        first, began, cpu_before = len(stub.accepted), time.monotonic(), cpu_seconds(process.pid)
        time.sleep(WINDOW / 2)
        members = memory.tree(process.pid)
        time.sleep(WINDOW / 2)
        sent, elapsed = len(stub.accepted) - first, time.monotonic() - began
        cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.stop()
    return {"rate": sent / elapsed, "cpu_ms": cpu * 1000 / max(sent, 1), **memory.totals(members)}


def main() -> None:
    redis = RedisServer().start()
    stub = SendGridStub(delay=0.15).start()
    try:
        for argument in sys.argv[1:]:
            tree, python = (Path(part) for part in argument.split("="))
            result = measure(tree, python, redis, stub)
            print(
                f"{tree} {python}: {result['rate']:.1f} emails/s, {result['processes']} processes, PSS {result['pss']:.0f} MB,"
                f" USS {result['uss']:.0f} MB, RSS {result['rss']:.0f} MB, CPU {result['cpu_ms']:.1f} ms per email",
                flush=True,
            )
    finally:
        stub.stop()
        redis.stop()


if __name__ == "__main__":
    main()
