"""The pool's memory at fixed amounts of work: PSS summed over the tree and
USS per worker when idle, after 300 and after 600 emails (WORKER_CONCURRENCY=16,
SendGrid stand-in answering after 150 ms). Sampling after a fixed number of
emails, not at a moment, matters when memory grows with the emails sent.

    python -m bench.fixed_work_memory [TREE ...]   # checkouts to compare; default this one
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil

from bench import memory
from bench.run import LOGS, enqueue_jobs, fresh_redis, settings_for
from tests.support.processes import PROJECT_ROOT, Process, environment_for, wait_for
from tests.support.redis_server import RedisServer
from tests.support.sendgrid_stub import SendGridStub

WORKERS = 16


def line(tag: str, pid: int) -> str:
    members = memory.tree(pid)
    workers = [member for member in members if member.role != "parent"]
    totals = memory.totals(members)
    uss = sum(worker.uss for worker in workers) / len(workers)
    return f"  {tag}: PSS sum {totals['pss']:.0f} MB, USS sum {totals['uss']:.0f} MB, USS per worker {uss:.1f} MB"


def probe(tree: Path, redis: RedisServer, stub: SendGridStub) -> None:
    settings = settings_for(redis, sendgrid_api_key=stub.api_key, sendgrid_api_host=stub.host)
    fresh_redis(redis)
    environment = environment_for(settings, LOG_LEVEL="WARNING", WORKER_CONCURRENCY=str(WORKERS), PYTHONPATH=str(tree))
    process = Process([sys.executable, "-m", "worker"], environment, LOGS / f"fixed-work-{tree.name}.log", cwd=tree)
    try:
        wait_for(lambda: len(psutil.Process(process.pid).children()) >= WORKERS, timeout=60, what="the pool's workers")
        time.sleep(3)  # they connect and register
        print(tree, flush=True)
        print(line("idle, no job yet", process.pid), flush=True)
        enqueue_jobs(redis, settings, 600)
        start = len(stub.accepted)
        for count in (300, 600):
            wait_for(lambda count=count: len(stub.accepted) - start >= count, timeout=300, what=f"{count} emails")
            print(line(f"after {len(stub.accepted) - start} emails", process.pid), flush=True)
    finally:
        process.stop()


def main() -> None:
    redis = RedisServer().start()
    stub = SendGridStub(delay=0.15).start()
    try:
        for tree in [Path(argument) for argument in sys.argv[1:]] or [PROJECT_ROOT]:
            probe(tree, redis, stub)
    finally:
        stub.stop()
        redis.stop()


if __name__ == "__main__":
    main()
