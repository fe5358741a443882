"""Section "peers-web": this app against the bare Flask + RQ endpoint, in one run.

Both answer POST /api/sequences under gunicorn with 2 sync workers on the same
Redis; each request posts to a new recipient and the app's two rate limits are
raised out of the way through their config vars (RATE_LIMIT_PER_IP and
RATE_LIMIT_PER_RECIPIENT), so their Redis calls still run. The variants take
turns, several rounds, and each figure is the median of its rounds; the ratios
compare figures from the same run. Redis counters give commands and round
trips per request (bench/redis_counts.py).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field

from bench import redis_counts, wrk
from bench.support import cpu_seconds
from tests.support.processes import PROJECT_ROOT


@dataclass
class Variant:
    label: str
    short: str  # in the ratio columns' headers
    app: str | None  # None: the Procfile's web line as it is
    plain_gunicorn: bool = False  # gunicorn's defaults, not gunicorn.conf.py
    peer: bool = False  # a floor to compare with, not a form of this app
    runs: dict[int, list[dict]] = field(default_factory=lambda: {32: [], 1: []})


BARE = "bench.bare_app:create_app()"


def variants() -> list[Variant]:
    return [
        Variant("bare Flask + RQ (gunicorn -w 2, defaults)", "gunicorn -w 2, defaults", BARE, plain_gunicorn=True, peer=True),
        Variant("bare Flask + RQ under gunicorn.conf.py", "gunicorn.conf.py", BARE, peer=True),
        # What the two rate limits cost, priced in the same run.
        Variant("this app, rate limits off", "rate limits off", "bench.app_variants:without_rate_limits()"),
        Variant("this app (Procfile web line)", "this app", None),
    ]


def measure(port: int, connections: int, seconds: float) -> tuple[dict, str]:
    """One load run: wrk where installed, else bench/loadgen.py; says which."""
    if wrk.available():
        return wrk.run(port, connections, seconds), "wrk"
    args = ["--port", str(port), "--kind", "api", "--clients", str(connections), "--seconds", str(seconds)]
    output = subprocess.run([sys.executable, "-m", "bench.loadgen", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return json.loads(output.stdout), "bench/loadgen.py"


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def bench_web_peers(report, quick: bool, start_web, fresh_redis, running) -> dict:
    """``start_web(variant)`` starts a variant's gunicorn and returns (process, port);
    ``fresh_redis()`` empties the benchmark's Redis and returns a connection."""
    seconds = 2 if quick else 5
    rounds = 1 if quick else 3
    candidates = variants()
    generators = set()
    for _ in range(rounds):
        for variant in candidates:
            connection = fresh_redis()
            process, port = start_web(variant)
            with running(process):
                measure(port, 32, 1)  # warm up: imports, connection pools
                for connections in (32, 1):
                    before_cpu, before_redis = cpu_seconds(process.pid), redis_counts.snapshot(connection)
                    result, generator = measure(port, connections, seconds)
                    requests = max(result["requests"], 1)
                    result["cpu_ms"] = (cpu_seconds(process.pid) - before_cpu) * 1000 / requests
                    result["redis"] = redis_counts.per_request(before_redis, redis_counts.snapshot(connection), requests)
                    result["generator"] = generator
                    generators.add(generator)
                    variant.runs[connections].append(result)
    bare, app = candidates[0], candidates[-1]
    peers = [variant for variant in candidates if variant.peer]
    ours = [variant for variant in candidates if not variant.peer]
    figures = {
        "req/s at 32 connections": ("rps", 32, "{:.0f}"),
        "p50 ms at 1 connection": ("p50_ms", 1, "{:.2f}"),
        "p99 ms at 32 connections": ("p99_ms", 32, "{:.1f}"),
        "CPU ms per request (gunicorn processes, 32 connections)": ("cpu_ms", 32, "{:.2f}"),
    }
    report.add("## Web against its peer: POST /api/sequences, gunicorn 2 sync workers, same Redis")
    report.add()
    report.add(
        f"Load generator: {', '.join(sorted(generators))}; {seconds:g} s per run, the variants taking turns {rounds} times; medians."
    )
    report.add("Each request posts to a new recipient; the rate limits are raised to 1,000,000 per minute through their config vars.")
    report.add()
    rows = []
    for name, (key, connections, shape) in figures.items():
        value = {variant.label: median(variant.runs[connections], key) for variant in candidates}
        ratios = [f"{value[mine.label] / value[peer.label]:.2f}×" for mine in ours for peer in peers]
        rows.append([name, *(shape.format(value[variant.label]) for variant in candidates), *ratios])
    errors = [sum(run["errors"] for runs in variant.runs.values() for run in runs) for variant in candidates]
    rows.append(["errors (all runs)", *errors, *([""] * (len(ours) * len(peers)))])
    ratio_headers = [f"{mine.short} / bare {peer.short}" for mine in ours for peer in peers]
    report.table(["figure", *(variant.label for variant in candidates), *ratio_headers], rows)
    report.add("Redis per request (server counters over the 1-connection runs, last round):")
    report.add()
    redis_rows = []
    for variant in candidates:
        counts = variant.runs[1][-1]["redis"]
        redis_rows.append(
            [
                variant.label,
                f"{counts['round_trips']:.2f}",
                f"{counts['total_commands']:.2f}",
                f"{counts['new_connections']:.3f}",
                redis_counts.describe(counts["commands"]),
            ]
        )
    report.table(["variant", "round trips", "commands", "new connections", "commands by name"], redis_rows)
    return {variant.label: variant.runs for variant in candidates} | {"bare": bare.label, "app": app.label}
