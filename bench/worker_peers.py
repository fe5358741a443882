"""Sections about sending: "peers-worker" (the Procfile's worker at several WORKER_CONCURRENCY values against
plain `rq worker` and Celery), "latency" (from the request to the email) and "size" (of the email by length)."""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
import timeit
from dataclasses import dataclass

from rq import Worker

from bench import harness
from bench.harness import SENDGRID_DELAY, running
from jobs.core.connection import connect_redis
from jobs.core.mail.smtp import to_mime
from jobs.core.settings import Settings
from jobs.email_content import fibonacci_email
from jobs.fibonacci import fibonacci
from tests.support.processes import wait_for
from tests.support.sendgrid_stub import SendGridStub


@dataclass
class WorkerVariant:
    label: str
    kind: str  # for start_worker
    in_flight: int  # sends it can have waiting on the provider at once
    concurrency: str = ""  # WORKER_CONCURRENCY, for the Procfile's worker


def worker_variants(quick: bool) -> list[WorkerVariant]:
    found = [WorkerVariant("rq worker (RQ's default Worker, the floor)", "rq-worker", 1)]
    # 1 is the default (HerokuWorker, a work-horse per job); 200 emails/s needs more than 200 × 0.15 s = 30 in flight.
    for concurrency in (1, 16) if quick else (1, 16, 32, 40):
        found.append(WorkerVariant(f"Procfile worker, WORKER_CONCURRENCY={concurrency}", "project", concurrency, str(concurrency)))
    if harness.CELERY_PYTHON.exists():
        found.append(WorkerVariant("celery --pool threads --concurrency 16", "celery:threads:16", 16))
    return found


def send_rate(variant: WorkerVariant, settings: Settings, stub: SendGridStub, window: float) -> dict:
    """Fills the queue, starts the worker, and once it is warm counts the emails the stand-in accepts over
    ``window`` s, sampling memory mid-window."""
    harness.enqueue_jobs(settings, int(variant.in_flight / SENDGRID_DELAY * (window + 8) * 1.3) + 50, variant.kind)
    before = len(stub.accepted)
    env = {"WORKER_CONCURRENCY": variant.concurrency} if variant.concurrency else {}
    with running(harness.start_worker(variant.kind, settings, f"peer-{variant.kind}-{variant.in_flight}", **env)) as process:
        wait_for(lambda: len(stub.accepted) - before >= variant.in_flight * 3, timeout=90, what=f"{variant.label} to warm up")
        first, began, cpu = len(stub.accepted), time.monotonic(), harness.tree_usage(process.pid)["cpu"]
        time.sleep(window / 2)
        usage = harness.tree_usage(process.pid)
        time.sleep(window / 2)
        sent, elapsed, cpu = len(stub.accepted) - first, time.monotonic() - began, harness.tree_usage(process.pid)["cpu"] - cpu
    return {**usage, "rate": sent / elapsed, "cpu_ms": cpu * 1000 / max(sent, 1)}


def bench_worker_peers(report, quick: bool) -> None:
    window = 4 if quick else 8
    stub = SendGridStub(delay=SENDGRID_DELAY).start()
    results = {}
    try:
        with harness.redis_server() as redis:
            settings = harness.sendgrid_settings(redis.url, stub)
            for variant in worker_variants(quick):
                harness.fresh_redis(redis.url)
                results[variant.label] = send_rate(variant, settings, stub, window)
    finally:
        stub.stop()
    floor = next(iter(results.values()))["rate"]
    report.add(f"## Worker against its peers: SendGrid stand-in answering 202 after {SENDGRID_DELAY * 1000:.0f} ms, length 10")
    report.add()
    report.add(f"Counted over {window:g} s once warm; memory over each variant's process tree, sampled mid-window (psutil);")
    report.add("CPU: user + system time of the tree, reaped work-horses included. Goal: ≥ 100 emails/s within 512 MB PSS (stretch 200).")
    report.add()
    rows = []
    for label, result in results.items():
        child_uss = "-" if result["child_uss"] is None else f"{result['child_uss']:.1f}"
        fits = "yes" if result["pss"] <= 512 else "no"
        rows.append([label, result["processes"], f"{result['rate']:.1f}", f"{result['rate'] / floor:.1f}×", f"{result['pss']:.0f}", fits])
        rows[-1] += [child_uss, f"{result['cpu_ms']:.1f}"]
    header = ["worker", "processes", "emails/s", "ratio to rq worker", "PSS sum MB", "≤ 512 MB", "USS per child MB", "CPU ms per email"]
    report.table(header, rows)
    if not harness.CELERY_PYTHON.exists():
        report.add(f"(Celery skipped: {harness.CELERY_PYTHON} is missing; `make bench` creates it.)")
        report.add()


class TimedList(list):
    """The stand-in's ``accepted`` list, noting when each recipient's email was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted_at: dict[str, float] = {}

    def append(self, body: dict) -> None:
        self.accepted_at[body["personalizations"][0]["to"][0]["email"]] = time.monotonic()
        super().append(body)


# Other users' jobs while the probes run: steady, well inside what 4 workers send, so no queue builds up.
BACKGROUND_RATE = 30


def bench_latency(report, quick: bool) -> None:
    probes, concurrency = (20 if quick else 60), 4
    stub = SendGridStub(accepted=TimedList()).start()
    rows = []

    def submit(port: int, recipient: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            body = json.dumps({"email": recipient, "length": 10})
            connection.request("POST", "/api/sequences", body=body, headers={"Content-Type": "application/json"})
            connection.getresponse().read()
        finally:
            connection.close()

    def measure(port: int, label: str) -> None:
        sent_at = {}
        for number in range(probes):
            recipient = f"probe-{len(rows)}-{number}@example.com"
            sent_at[recipient] = time.monotonic()
            submit(port, recipient)
            time.sleep(0.1)
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: all(r in stub.accepted.accepted_at for r in sent_at), timeout=60, what="every probe's email")
        latencies = [(stub.accepted.accepted_at[r] - t) * 1000 for r, t in sent_at.items() if r in stub.accepted.accepted_at]
        if len(latencies) < probes:
            rows.append([label, f"{len(latencies)} of {probes} arrived within 60 s", "-", "-"])
            return
        quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
        rows.append([label, probes, f"{quantiles[49]:.1f}", f"{quantiles[98]:.1f}"])

    try:
        with harness.redis_server() as redis:
            settings = harness.sendgrid_settings(redis.url, stub)
            web, port = harness.start_web(settings, "latency-web")
            worker = harness.start_worker("project", settings, "latency-worker", WORKER_CONCURRENCY=str(concurrency))
            with running(web), running(worker):
                connection = connect_redis(redis.url)
                wait_for(lambda: Worker.count(connection=connection) >= concurrency, timeout=30, what="the pool's workers")
                measure(port, "idle")
                stop = threading.Event()

                def background() -> None:
                    number, began = 0, time.monotonic()
                    while not stop.wait(max(0.0, began + number / BACKGROUND_RATE - time.monotonic())):
                        with contextlib.suppress(OSError, http.client.HTTPException):
                            submit(port, f"load{number}@example.com")
                        number += 1

                loader = threading.Thread(target=background, daemon=True)
                loader.start()
                measure(port, f"under load ({BACKGROUND_RATE} other jobs/s through the same web and worker)")
                stop.set()
                loader.join()
    finally:
        stub.stop()
    report.add(f"## End-to-end latency: POST /api/sequences → email accepted by the SendGrid stand-in (WORKER_CONCURRENCY={concurrency})")
    report.add()
    report.add("A probe every 100 ms; the stand-in answers at once here, so this is the queue's own delay.")
    report.add()
    report.table(["condition", "probes", "p50 ms", "p99 ms"], rows)


def bench_size(report, quick: bool) -> None:
    rows = []
    for length in (10, 100, 500, Settings().max_sequence_length):
        fib_us = timeit.timeit(lambda: fibonacci(length), number=200) / 200 * 1e6  # noqa: B023
        render_ms = timeit.timeit(lambda: fibonacci_email("a@example.com", "b@example.com", length), number=50) / 50 * 1000  # noqa: B023
        email = fibonacci_email("a@example.com", "b@example.com", length)
        rows.append(
            [
                length,
                f"{fib_us:.1f}",
                f"{render_ms:.2f}",
                len(email.text.encode()),
                len(email.html.encode()),
                len(to_mime(email).as_bytes()),
            ]
        )
    report.add("## Fibonacci and email size by length (MAX_SEQUENCE_LENGTH is the last row)")
    report.add()
    report.table(["length", "fibonacci µs", "render email ms", "text bytes", "html bytes", "MIME bytes"], rows)
