"""`make bench`: every benchmark of docs/benchmarks.md, one table each.

Runs the real processes (gunicorn and the worker from the Procfile, throwaway redis-servers on free ports,
tests/support's SendGrid stand-in) and prints Markdown tables to stdout and to bench/results/latest.md.
It prints numbers; it never fails on them.

    .venv/bin/python -m bench.run [--quick] [--only peers-web,peers-worker,latency,size,connections,capacity]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.harness import LOGS
from tests.support.processes import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results" / "latest.md"


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def table(self, header: list[str], rows: list[list]) -> None:
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.add("| " + " | ".join(str(cell) for cell in row) + " |")
        self.add()

    def save(self) -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("\n".join(self.lines) + "\n")


def machine_description() -> list[str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?"
    )
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    redis_version = next((part.split("=")[1] for part in redis.split() if part.startswith("v=")), "?")
    return [
        f"- CPU: {os.cpu_count()} × {cpu}; memory {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- Python {platform.python_version()}, redis-server {redis_version}, {platform.system()} {platform.release()}",
    ]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    from bench import capacity, connections, web_peers, worker_peers

    sections = {
        "peers-web": web_peers.bench_web_peers,
        "peers-worker": worker_peers.bench_worker_peers,
        "latency": worker_peers.bench_latency,
        "size": worker_peers.bench_size,
        "connections": connections.bench_connections,
        "capacity": capacity.bench_capacity,
    }
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="short runs, to check the harness")
    parser.add_argument("--only", default=",".join(sections), help="comma-separated: " + ",".join(sections))
    parser.add_argument(
        "--plan-concurrency",
        default="",
        help="connections: WORKER_CONCURRENCY per plan (mini=6,premium-0=14) instead of the highest that fits",
    )
    options = parser.parse_args()
    only = options.only.split(",")
    unknown = [name for name in only if name not in sections]
    if unknown:
        parser.error(f"no section {', '.join(unknown)}; the sections are {', '.join(sections)}")
    for tool, package in (("redis-server", "redis-server"), ("wrk", "wrk")):
        if shutil.which(tool) is None:
            print(f"{tool} is not on PATH (apt-get install {package})", file=sys.stderr)
            return 2
    report = Report()
    started = time.monotonic()
    report.add(f"# FibTastic benchmarks{' (--quick)' if options.quick else ''}")
    report.add()
    for line in machine_description():
        report.add(line)
    report.add(f"- Load average before: {load_average()} (`nproc` {os.cpu_count()}; other work on the machine shows here)")
    report.add()
    try:
        for name in only:
            if name == "connections":
                sections[name](report, options.quick, options.plan_concurrency)
            else:
                sections[name](report, options.quick)
    finally:
        report.add(f"Load average after: {load_average()}; total {time.monotonic() - started:.0f} s; process logs in {LOGS}")
        report.save()
    print(f"\nwritten to {RESULTS.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
