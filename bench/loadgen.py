"""A closed-loop HTTP load generator: N clients, each sending its next request
as soon as the last one is answered (like wrk), for a fixed time.

Run in its own process so its CPU use does not share a GIL with the servers
the benchmark starts:

    python -m bench.loadgen --port 5000 --kind api --clients 32 --length 10 --seconds 3

prints one JSON object: requests, errors, p50_ms, p99_ms, rps.
The form path fetches a CSRF token per client (GET /, then POST /sequences
with the token and the session cookie), as a browser does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import threading
import time
from urllib.parse import urlencode

EXPECTED_STATUS = {"api": 202, "form": 303, "sync": 200}


class Client:
    def __init__(self, port: int, kind: str, length: int, number: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.kind = kind
        self.number, self.length, self.sent = number, length, 0
        self.headers: dict[str, str] = {}
        email = f"bench{number}@example.com"
        if kind == "form":
            token, cookie = self._csrf_token()
            self.body = urlencode({"email": email, "length": length, "csrf_token": token}).encode()
            self.headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
            self.path = "/sequences"
        else:
            self.body = json.dumps({"email": email, "length": length}).encode()
            self.headers = {"Content-Type": "application/json"}
            self.path = "/api/sequences" if kind == "api" else "/sync/sequences"

    def _csrf_token(self) -> tuple[str, str]:
        self.connection.request("GET", "/")
        response = self.connection.getresponse()
        page = response.read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
        if not token:
            raise RuntimeError("no csrf_token in the form page")
        cookie = response.getheader("Set-Cookie", "").split(";")[0]
        return token.group(1), cookie

    def request(self) -> int:
        if self.kind == "api":  # a new recipient each time, as real users are (and as bench/post_sequence.lua does)
            self.sent += 1
            self.body = json.dumps({"email": f"bench{self.number}-{self.sent}@example.com", "length": self.length}).encode()
        self.connection.request("POST", self.path, body=self.body, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()  # gunicorn's sync workers close after each response
        return response.status


def run(port: int, kind: str, clients: int, length: int, seconds: float, warmup: int = 3) -> dict:
    workers = [Client(port, kind, length, number) for number in range(clients)]
    latencies: list[list[float]] = [[] for _ in workers]
    errors = [0] * clients
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]

    def loop(index: int) -> None:
        client = workers[index]
        for _ in range(warmup):
            client.request()
        start_line.wait()
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                status = client.request()
            except (OSError, http.client.HTTPException):
                client.connection.close()
                status = 0
            latencies[index].append(time.perf_counter() - began)
            if status != EXPECTED_STATUS[kind]:
                errors[index] += 1

    threads = [threading.Thread(target=loop, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds + 60  # until all are warm
    start_line.wait()
    began = time.perf_counter()
    deadline[0] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    samples = sorted(value for client_latencies in latencies for value in client_latencies)
    quantiles = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else samples * 99
    return {
        "requests": len(samples),
        "errors": sum(errors),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "rps": round(len(samples) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=sorted(EXPECTED_STATUS), required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3)
    options = parser.parse_args()
    print(json.dumps(run(options.port, options.kind, options.clients, options.length, options.seconds)))


if __name__ == "__main__":
    main()
