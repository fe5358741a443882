"""Runs wrk (Debian's `wrk` package), a C load generator that leaves the two cores to the server being
measured and keeps connections open as Heroku's Router 2.0 does, and reads its numbers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

POST_SCRIPT = Path(__file__).with_name("post_sequence.lua")
MILLISECONDS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return round(float(value) * MILLISECONDS[unit], 2)


def run(port: int, connections: int, seconds: float, path: str = "/api/sequences", post: bool = True) -> dict:
    """One run: requests, errors (non-2xx and socket errors), p50/p99 ms, req/s. ``post``: each request
    posts a new recipient to ``path`` (post_sequence.lua); otherwise plain GETs of ``path``."""
    # --timeout: sending inline, 32 connections queue for seconds behind two workers; wrk's 2 s would count them as errors.
    args = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "--latency"]
    args += ["-s", str(POST_SCRIPT)] if post else []
    env = {"BENCH_PATH": path, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    output = subprocess.run([*args, f"http://127.0.0.1:{port}{'' if post else path}"], capture_output=True, text=True, check=True, env=env)
    text = output.stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", text, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
        "p50_ms": _milliseconds(percentiles["50"]),
        "p99_ms": _milliseconds(percentiles["99"]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
    }
