"""Section "peers-web": POST /api/sequences under the Procfile's web line (gunicorn.conf.py, WEB_CONCURRENCY=2),
this app against the bare Flask + RQ endpoint (the floor), with its rate limits off, with gunicorn's gthread
workers, and against sending the email inside the request; then GET /healthz.

All on one Redis, no worker running, the SendGrid stand-in answering after 150 ms. The variants take turns,
several rounds, and each figure is the median of its rounds; ratios compare figures from the same run. Redis's
own counters (INFO stats and commandstats) give its round trips and commands per request.
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass, field

from redis import Redis

from bench import wrk
from bench.harness import SENDGRID_DELAY, fresh_redis, redis_server, running, sendgrid_settings, start_web, tree_usage
from tests.support.sendgrid_stub import SendGridStub


@dataclass
class Variant:
    label: str
    app: str | None = None  # None: the Procfile's app
    path: str = "/api/sequences"
    env: dict = field(default_factory=dict)
    runs: dict[int, list[dict]] = field(default_factory=lambda: {1: [], 32: []})


PROCFILE = "this app (Procfile web line)"


def variants() -> list[Variant]:
    return [
        Variant("bare Flask + RQ (the floor)", app="bench.apps:bare()"),
        Variant("this app, rate limits off", app="bench.apps:without_rate_limits()"),
        # GUNICORN_CMD_ARGS overrides gunicorn.conf.py: the worker class that would honour keep-alive.
        Variant("this app, gthread workers, 5 threads", env={"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 5"}),
        Variant(PROCFILE),
        Variant("sending inside the request (POST /sync/sequences)", app="bench.apps:sending_inline()", path="/sync/sequences"),
    ]


# The figures given with their ratio to the floor: (connections, key, format).
FLOOR_FIGURES = [(32, "rps", "{:.0f}"), (1, "p50_ms", "{:.2f}"), (32, "cpu_ms", "{:.2f}")]


def redis_counters(connection: Redis) -> tuple[int, int]:
    """(reads the server processed, commands): a pipeline or a script is one read, one round trip."""
    commands = sum(fields["calls"] for fields in connection.info("commandstats").values())
    return connection.info("stats")["total_reads_processed"], commands


def bench_web_peers(report, quick: bool) -> None:
    seconds, rounds = (2, 1) if quick else (5, 3)
    candidates = variants()
    stub = SendGridStub(delay=SENDGRID_DELAY).start()
    with contextlib.ExitStack() as stack:
        stack.callback(stub.stop)
        redis = stack.enter_context(redis_server())
        settings = sendgrid_settings(redis.url, stub)
        for round_number in range(rounds):
            for variant in candidates:
                connection = fresh_redis(redis.url)
                process, port = start_web(settings, "web-peer", app=variant.app, **variant.env)
                with running(process):
                    wrk.run(port, 2, 1, variant.path)  # warm up both workers: imports, connection pools
                    # One connection first: requests still queued when a 32-connection run ends would delay it
                    # (seconds, when sending inline).
                    for connections in (1, 32):
                        cpu, (reads, commands) = tree_usage(process.pid)["cpu"], redis_counters(connection)
                        result = wrk.run(port, connections, seconds, variant.path)
                        requests = max(result["requests"], 1)
                        after_reads, after_commands = redis_counters(connection)
                        result["cpu_ms"] = (tree_usage(process.pid)["cpu"] - cpu) * 1000 / requests
                        result["round_trips"], result["commands"] = (after_reads - reads) / requests, (after_commands - commands) / requests
                        variant.runs[connections].append(result)
                    if variant.label == PROCFILE and round_number == rounds - 1:
                        health = wrk.run(port, 1, seconds, "/healthz", post=False)

    def median(variant: Variant, connections: int, key: str) -> float:
        return statistics.median(run[key] for run in variant.runs[connections])

    floor, rows = candidates[0], []
    for variant in candidates:
        cells = []
        for connections, key, shape in FLOOR_FIGURES:
            value = median(variant, connections, key)
            cells += [shape.format(value), f"{value / median(floor, connections, key):.2f}×"]
        redis = f"{median(variant, 1, 'round_trips'):.2f} / {median(variant, 1, 'commands'):.1f}"
        errors = sum(run["errors"] for runs in variant.runs.values() for run in runs)
        rows.append([variant.label, *cells, f"{median(variant, 32, 'p99_ms'):.1f}", redis, errors])
    report.add("## Web: POST /api/sequences against the bare Flask + RQ endpoint (gunicorn.conf.py, WEB_CONCURRENCY=2)")
    report.add()
    report.add(f"wrk, {seconds:g} s per run, the variants taking turns {rounds} times; medians; ratios to the floor in the same run.")
    report.add("Each request posts a new recipient; the rate limits are raised to 1,000,000 per minute through their config vars.")
    report.add(
        f"CPU: the gunicorn processes' user + system time. Sending inline waits for the SendGrid stand-in ({SENDGRID_DELAY * 1000:.0f} ms)."
    )
    report.add()
    header = ["variant", "req/s at 32 connections", "ratio", "p50 ms at 1", "ratio", "CPU ms per request", "ratio", "p99 ms at 32"]
    report.table([*header, "Redis round trips / commands per request", "errors"], rows)
    report.add(
        f"GET /healthz (this app, 1 connection): p50 {health['p50_ms']:.2f} ms, p99 {health['p99_ms']:.2f} ms, {health['errors']} errors."
    )
    report.add()
