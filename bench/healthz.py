"""How long GET /healthz takes, with Redis up and with nothing listening.

    python -m bench.healthz redis://127.0.0.1:6399/0   # a Redis you can use
Prints median and 95th percentile in milliseconds (through Flask's test
client, so no HTTP overhead: this measures the view and its Redis round trips).
"""

import socket
import statistics
import sys
import time

from jobs.core.settings import Settings
from web import create_app


def measure(redis_url: str, rounds: int) -> tuple[int, list[float]]:
    client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": Settings(redis_url=redis_url)}).test_client()
    timings, status = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        status = client.get("/healthz").status_code
        timings.append((time.perf_counter() - start) * 1000)
    return status, timings


def report(label: str, status: int, timings: list[float]) -> None:
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"{label}: status={status} n={len(timings)} median={statistics.median(timings):.2f} ms p95={p95:.2f} ms")


def main() -> None:
    up_url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"
    report("redis up  ", *measure(up_url, 500))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    report("redis down", *measure(f"redis://127.0.0.1:{closed_port}/0", 20))


if __name__ == "__main__":
    main()
