"""This app's web line from several checkouts side by side (e.g. variants of
the rate limiting made with `git archive` plus an edit), with the same
figures as section "peers-web": req/s at 32 connections, p50 at 1, p99 at 32,
CPU and Redis round trips per request.

    python -m bench.web_trees LABEL=TREE [LABEL=TREE ...]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench import redis_counts
from bench.run import LOGS, fresh_redis, running, settings_for
from bench.support import cpu_seconds, wait_for_port
from bench.web_peers import measure
from tests.support.processes import Process, environment_for, free_port
from tests.support.procfile import read_procfile
from tests.support.redis_server import RedisServer

ROUNDS = 3
SECONDS = 5


def start(tree: Path, settings) -> tuple[Process, int]:
    port = free_port()
    environment = environment_for(settings, PORT=str(port), LOG_LEVEL="WARNING", PYTHONPATH=str(tree))
    command = ["bash", "-c", "exec " + read_procfile(tree / "Procfile")["web"]]
    process = Process(command, environment, LOGS / f"tree-{tree.name}.log", cwd=tree)
    wait_for_port(port)
    return process, port


def main() -> None:
    trees = dict(argument.split("=", 1) for argument in sys.argv[1:])
    runs: dict[str, list[dict]] = {label: [] for label in trees}
    redis = RedisServer().start()
    try:
        settings = settings_for(redis)
        for _ in range(ROUNDS):
            for label, tree in trees.items():
                connection = fresh_redis(redis)
                process, port = start(Path(tree), settings)
                with running(process):
                    measure(port, 32, 1)
                    before = cpu_seconds(process.pid)
                    wide, generator = measure(port, 32, SECONDS)
                    cpu_ms = (cpu_seconds(process.pid) - before) * 1000 / max(wide["requests"], 1)
                    counts = redis_counts.snapshot(connection)
                    narrow, _ = measure(port, 1, SECONDS)
                    per_request = redis_counts.per_request(counts, redis_counts.snapshot(connection), max(narrow["requests"], 1))
                runs[label].append({"rps": wide["rps"], "p99": wide["p99_ms"], "p50": narrow["p50_ms"], "cpu": cpu_ms, **per_request})
    finally:
        redis.stop()
    print(f"{generator}, {SECONDS} s per run, {ROUNDS} rounds taking turns, medians")
    print("| variant | req/s at 32 | p50 ms at 1 | p99 ms at 32 | CPU ms per request | Redis round trips | Redis commands |")
    print("|---|---|---|---|---|---|---|")
    for label, results in runs.items():

        def median(key: str, results=results) -> float:
            return statistics.median(result[key] for result in results)

        print(
            f"| {label} | {median('rps'):.0f} | {median('p50'):.2f} | {median('p99'):.1f} | {median('cpu'):.2f}"
            f" | {median('round_trips'):.2f} | {median('total_commands'):.1f} |"
        )


if __name__ == "__main__":
    main()
