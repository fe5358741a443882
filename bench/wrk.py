"""Drives wrk (Debian's `wrk` package) against POST /api/sequences and reads its numbers.

wrk is a C load generator: it costs the benchmark's two cores far less than a
Python one, so more of them go to the server being measured. Each request
posts to a new recipient (bench/post_sequence.lua). `available()` says
whether it is installed; bench/loadgen.py is the fallback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("post_sequence.lua")
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def run(port: int, connections: int, seconds: float, length: int = 10) -> dict:
    """One wrk run: requests, errors (non-2xx and socket errors), p50/p99 ms, req/s."""
    threads = min(connections, 2)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(SCRIPT), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
        env={"BENCH_LENGTH": str(length), "PATH": "/usr/bin:/bin"},
    ).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)
    return {
        "requests": requests,
        "errors": errors,
        "p50_ms": round(_milliseconds(*re.fullmatch(r"([\d.]+)(\w+)", percentiles["50"]).groups()), 2),
        "p99_ms": round(_milliseconds(*re.fullmatch(r"([\d.]+)(\w+)", percentiles["99"]).groups()), 2),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
    }
