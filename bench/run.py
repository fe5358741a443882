"""`make bench`: every benchmark of docs/benchmarks.md, one table each.

Runs the real processes (gunicorn and the worker from the Procfile, a
throwaway redis-server on a free port, local mail servers) and prints
Markdown tables to stdout and to bench/results/latest.md. It prints numbers;
it never fails on them.

    .venv/bin/python -m bench.run [--quick] [--only peers-web,peers-worker,imports,web,...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from pathlib import Path

from redis import Redis

from bench import profile_web, web_peers, worker_peers, wrk
from bench.support import CountingSmtpSink, cpu_seconds, memory_mib, wait_for_port
from jobs.core.connection import connect_redis, get_queue
from jobs.core.mail.compose import to_mime
from jobs.core.settings import Settings
from jobs.email_content import fibonacci_email
from jobs.fibonacci import fibonacci
from tests.support.processes import PROJECT_ROOT, Process, environment_for, free_port, wait_for
from tests.support.procfile import read_procfile, start_process_type
from tests.support.redis_server import RedisServer
from tests.support.sendgrid_stub import SendGridStub

RESULTS = PROJECT_ROOT / "bench" / "results" / "latest.md"
CELERY_PYTHON = PROJECT_ROOT / ".venv-celery" / "bin" / "python"
MAX_LENGTH = Settings().max_sequence_length
LOGS = Path(tempfile.mkdtemp(prefix="fibtastic-bench-"))


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
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return [
        f"- CPU: {os.cpu_count()} × {model}",
        f"- Memory: {memory_kib / 1024 / 1024:.1f} GiB",
        f"- Python {platform.python_version()}, redis-server {redis_version()}, {platform.system()} {platform.release()}",
    ]


def redis_version() -> str:
    output = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    return next((part.split("=")[1] for part in output.split() if part.startswith("v=")), "?")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextlib.contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


# The rate limits stay on (their Redis round trips are part of a request's
# cost) but far above what the load generator sends.
BENCH_RATE_LIMIT = "1000000 per minute"


def settings_for(redis: RedisServer, **changes) -> Settings:
    limits = {"rate_limit_per_ip": BENCH_RATE_LIMIT, "rate_limit_per_recipient": BENCH_RATE_LIMIT}
    return Settings(redis_url=redis.url, secret_key="bench-" + "x" * 40, **{**limits, **changes})


def fresh_redis(redis: RedisServer) -> Redis:
    connection = connect_redis(redis.url)
    connection.flushdb()
    return connection


# 1. Web response time ---------------------------------------------------------


def start_web(settings: Settings, name: str, app: str | None = None, **env) -> tuple[Process, int]:
    port = free_port()
    environment = environment_for(settings, PORT=str(port), LOG_LEVEL="WARNING", **env)
    if app is None:
        process = start_process_type("web", environment, LOGS / f"{name}.log")
    else:
        # The Procfile's gunicorn line with the benchmark's app in place of the real one.
        command = read_procfile()["web"].replace('"web:create_app()"', f'"{app}"')
        process = Process(["bash", "-c", "exec " + command], environment, LOGS / f"{name}.log")
    wait_for_port(port)
    return process, port


def load(port: int, kind: str, clients: int, length: int, seconds: float) -> dict:
    args = ["--port", str(port), "--kind", kind, "--clients", str(clients), "--length", str(length), "--seconds", str(seconds)]
    output = subprocess.run([sys.executable, "-m", "bench.loadgen", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return json.loads(output.stdout)


def bench_web(report: Report, redis: RedisServer, quick: bool) -> None:
    seconds = 1.5 if quick else 4
    report.add("## 1. Web response time (gunicorn as in the Procfile, WEB_CONCURRENCY=2)")
    report.add()
    report.add(f"Closed loop: each client sends its next request when the last is answered, for {seconds:g} s after a warm-up.")
    report.add("The form path fetches a CSRF token per client first (GET /), as a browser does; CSRF stays on.")
    report.add()
    rows = []
    with CountingSmtpSink(delay=0.1) as slow_mail:
        settings = settings_for(redis, smtp_url=slow_mail.url)
        connection = fresh_redis(redis)
        web_process, port = start_web(settings, "web")
        with running(web_process):
            for kind, path in (("form", "POST /sequences"), ("api", "POST /api/sequences")):
                for clients in (1, 32):
                    for length in (10, 100, MAX_LENGTH):
                        result = load(port, kind, clients, length, seconds)
                        rows.append([path, clients, length, result["p50_ms"], result["p99_ms"], result["rps"], result["errors"]])
                        connection.flushdb()  # nobody works the queue here
        sync_process, sync_port = start_web(settings, "web-sync", app="bench.sync_app:create_app()")
        with running(sync_process):
            for clients in (1, 32):
                result = load(sync_port, "sync", clients, 10, max(seconds, 3))
                rows.append(
                    [
                        "POST /sync/sequences (sends inline, SMTP 100 ms)",
                        clients,
                        10,
                        result["p50_ms"],
                        result["p99_ms"],
                        result["rps"],
                        result["errors"],
                    ]
                )
    report.table(["request", "clients", "length", "p50 ms", "p99 ms", "req/s", "errors"], rows)


# 0. Peers: this app against the bare endpoint, the worker against rq and Celery ----


def start_web_variant(settings: Settings):
    def start(variant: web_peers.Variant) -> tuple[Process, int]:
        if not variant.plain_gunicorn:
            return start_web(settings, "web-peer", app=variant.app)
        port = free_port()
        args = ["gunicorn", "--workers", "2", "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", variant.app]
        process = Process(args, environment_for(settings, LOG_LEVEL="WARNING"), LOGS / "web-bare.log")
        wait_for_port(port)
        return process, port

    return start


def bench_web_peers(report: Report, redis: RedisServer, quick: bool) -> None:
    start = start_web_variant(settings_for(redis))
    web_peers.bench_web_peers(report, quick, start, lambda: fresh_redis(redis), running)


def bench_worker_peers(report: Report, redis: RedisServer, quick: bool) -> None:
    window = 4 if quick else 8
    stub = SendGridStub(delay=worker_peers.SENDGRID_DELAY).start()
    try:
        settings = settings_for(redis, sendgrid_api_key=stub.api_key, sendgrid_api_host=stub.host)

        def fill(variant: worker_peers.WorkerVariant, count: int) -> None:
            fresh_redis(redis)
            if variant.kind == "celery":
                worker_peers.celery_publish(CELERY_PYTHON, environment_for(settings), count)
            else:
                enqueue_jobs(redis, settings, count)

        def start(variant: worker_peers.WorkerVariant) -> Process:
            log_name = f"peer-{variant.kind}-{variant.celery_pool}-{variant.in_flight}.log"
            if variant.kind == "celery":
                return Process(
                    worker_peers.celery_args(CELERY_PYTHON, variant), environment_for(settings, LOG_LEVEL="WARNING"), LOGS / log_name
                )
            return worker_command(variant.kind, settings, log_name, **variant.env)

        results = {}
        for variant in worker_peers.variants(CELERY_PYTHON, quick):
            results[variant.label] = worker_peers.run_variant(variant, stub, window, fill, start)
    finally:
        stub.stop()
    labels = list(results)
    worker_peers.report_worker_peers(report, results, labels[0], window)
    if not CELERY_PYTHON.exists():
        report.add(f"(Celery skipped: {CELERY_PYTHON} is missing; `make bench` creates it.)")
        report.add()
    for label in labels:
        if label.startswith("Procfile") or "threads" in label:
            worker_peers.report_uss(report, label, results[label]["members"])
            break


def bench_imports(report: Report) -> None:
    report.add("## Where a process's unique memory goes: USS of a fresh process after each import (bench/import_cost.py)")
    report.add()
    report.add("A process that loads the code itself pays all of this privately; one forked after the imports shares it")
    report.add("until it writes to those pages (CPython's reference counts and its garbage collector do write to them).")
    report.add()
    for kind in ("worker", "web"):
        output = subprocess.run(
            [sys.executable, "-m", "bench.import_cost", kind], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        report.table([f"{kind}: step", "USS after, MiB", "added, MiB"], json.loads(output.stdout))


def bench_profile(report: Report, redis: RedisServer, quick: bool) -> None:
    seconds = 3 if quick else 10
    settings = settings_for(redis)
    columns: dict[str, dict[str, float]] = {}
    served = {}
    for label, app in (("this app", "web:create_app()"), ("bare Flask + RQ", web_peers.BARE)):
        profile_web.clear()
        fresh_redis(redis)
        port = free_port()
        command = read_procfile()["web"].replace("--config gunicorn.conf.py", "--config bench/gunicorn_profile.conf.py")
        command = command.replace('"web:create_app()"', f'"{app}"')
        environment = environment_for(settings, PORT=str(port), LOG_LEVEL="WARNING")
        with running(Process(["bash", "-c", "exec " + command], environment, LOGS / f"profile-{label.split()[0]}.log")):
            wait_for_port(port)
            _, generator = web_peers.measure(port, 1, seconds)
        stats = profile_web.load()
        served[label] = profile_web.requests_profiled()
        columns[label] = dict(profile_web.parts(stats))
    report.add("## Profile of POST /api/sequences inside the gunicorn workers (cProfile, one connection)")
    report.add()
    counts = ", ".join(f"{label} {count}" for label, count in served.items())
    report.add(f"{generator}, {seconds:g} s; requests profiled (after 50 per worker to warm up): {counts}. Milliseconds per")
    report.add("request under cProfile, which slows Python code down: read the shares. Parts nest, so they do not add up.")
    report.add()
    total = columns["this app"][profile_web.PARTS[0][0]]  # Flask's wsgi_app
    rows = []
    for label, *_ in profile_web.PARTS:
        app_ms, bare_ms = columns["this app"][label], columns["bare Flask + RQ"][label]
        if app_ms or bare_ms:
            rows.append([label, f"{app_ms:.3f}", f"{app_ms / total:.0%}", f"{bare_ms:.3f}"])
    report.table(["part", "this app ms", "share of this app's wsgi_app", "bare ms"], rows)


# 1b. gunicorn worker class ------------------------------------------------------

# The worker classes compared, as GUNICORN_CMD_ARGS (which overrides
# gunicorn.conf.py): the Procfile's sync workers, and gthread with
# heroku/python-getting-started's 5 threads, the one that would honour keepalive.
WORKER_CLASSES = {"sync (gunicorn.conf.py)": "--worker-class sync", "gthread, 5 threads": "--worker-class gthread --threads 5"}


def bench_worker_class(report: Report, redis: RedisServer, quick: bool) -> None:
    seconds = 2 if quick else 6
    rounds = 1 if quick else 3
    report.add("## 1b. gunicorn worker class: sync against gthread (POST /api/sequences, WEB_CONCURRENCY=2)")
    report.add()
    if not wrk.available():
        report.add("(skipped: needs wrk, `apt-get install wrk`, which keeps connections open as Router 2.0 does)")
        report.add()
        return
    report.add(f"wrk, {seconds:g} s per run, the two alternating {rounds} times; medians. CPU is the gunicorn processes' user +")
    report.add("system time per request: it barely moves when other work shares the machine, unlike req/s.")
    report.add()
    settings = settings_for(redis)
    results: dict[str, dict[int, list[dict]]] = {label: {32: [], 1: []} for label in WORKER_CLASSES}
    for _ in range(rounds):
        for label, args in WORKER_CLASSES.items():
            fresh_redis(redis)
            process, port = start_web(settings, "web-class", GUNICORN_CMD_ARGS=args)
            with running(process):
                wrk.run(port, 32, 1)  # warm up
                for connections in (32, 1):
                    before = cpu_seconds(process.pid)
                    result = wrk.run(port, connections, seconds)
                    result["cpu_ms"] = (cpu_seconds(process.pid) - before) * 1000 / max(result["requests"], 1)
                    results[label][connections].append(result)
    rows = []
    for label, by_connections in results.items():
        for connections, runs in by_connections.items():

            def median(key: str, runs=runs) -> float:
                return statistics.median(run[key] for run in runs)

            rows.append(
                [
                    label,
                    connections,
                    f"{median('rps'):.0f}",
                    f"{median('p50_ms'):.2f}",
                    f"{median('p99_ms'):.1f}",
                    f"{median('cpu_ms'):.2f}",
                    sum(run["errors"] for run in runs),
                ]
            )
    report.table(["worker class", "connections", "req/s", "p50 ms", "p99 ms", "CPU ms per request", "errors"], rows)


# 2 and 3. Worker throughput ---------------------------------------------------


def enqueue_jobs(redis: RedisServer, settings: Settings, count: int, length: int = 10) -> None:
    """``count`` jobs exactly as the web enqueues them, in pipelined batches."""
    from rq import Callback, Retry

    from jobs.core.enqueue_policy import FAILURE_TTL, RESULT_TTL, record_failure
    from jobs.tasks import send_fibonacci_email

    queue = get_queue(connect_redis(redis.url), settings)
    intervals = list(settings.retry_intervals)
    for start in range(0, count, 500):
        batch = [
            queue.prepare_data(
                send_fibonacci_email,
                (f"reader{number}@example.com", length),
                timeout=settings.job_timeout,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                retry=Retry(max=len(intervals), interval=intervals),
                on_failure=Callback(record_failure),
                description=f"send_fibonacci_email(to=r***@example.com, length={length})",
            )
            for number in range(start, min(start + 500, count))
        ]
        queue.enqueue_many(batch)


def worker_command(variant: str, settings: Settings, log_name: str, **env) -> Process:
    """The worker processes being compared, started the way users would run them."""
    environment = environment_for(settings, LOG_LEVEL="WARNING", **env)
    if variant == "rq-worker":  # RQ's default Worker: one process, a fork per job
        args = ["rq", "worker", "--url", settings.redis_url, "--logging_level", "WARNING", settings.queue_name]
    elif variant == "rq-simple":
        args = ["rq", "worker", "--url", settings.redis_url, "--logging_level", "WARNING", "-w"]
        args += ["rq.worker.SimpleWorker", settings.queue_name]
    elif variant == "celery":
        args = [str(CELERY_PYTHON), "-m", "celery", "-A", "bench.celery_app", "worker", "--pool", "prefork", "--concurrency", "1"]
        args += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    else:  # the Procfile's worker line
        return start_process_type("worker", environment, LOGS / log_name)
    return Process(args, environment, LOGS / log_name)


def bench_dyno(report: Report, redis: RedisServer, quick: bool) -> None:
    window = 3 if quick else 6
    concurrencies = [1, 4, 8] if quick else [1, 4, 8, 12, 16, 24]
    report.add("## 2. Emails per second per worker dyno (SendGrid stand-in answering 202 after 150 ms)")
    report.add()
    report.add(f"Rate over {window} s once the worker is warm. Memory: sum over the dyno's processes, sampled during the window;")
    report.add("the budget is 512 MB of summed RSS (PSS, which counts shared pages once, is closer to Heroku's accounting).")
    report.add()
    stub = SendGridStub(delay=0.15).start()
    rows = []
    try:
        settings = settings_for(redis, sendgrid_api_key=stub.api_key, sendgrid_api_host=stub.host)
        variants = [("rq worker (RQ's default Worker)", "rq-worker", {})]
        variants += [(f"python -m worker, WORKER_CONCURRENCY={n}", "project", {"WORKER_CONCURRENCY": str(n)}) for n in concurrencies]
        for label, variant, env in variants:
            fresh_redis(redis)
            slots = int(env.get("WORKER_CONCURRENCY", "1"))
            enqueue_jobs(redis, settings, int(7 * slots * (window + 6)) + 50)
            before = len(stub.accepted)
            with running(worker_command(variant, settings, f"dyno-{variant}-{slots}.log", **env)) as process:
                wait_for(lambda: len(stub.accepted) - before >= slots * 3, timeout=60, what=f"{label} to warm up")  # noqa: B023
                first, began = len(stub.accepted), time.monotonic()
                time.sleep(window / 2)
                rss, pss, processes = memory_mib(process.pid)
                time.sleep(window / 2)
                sent, elapsed = len(stub.accepted) - first, time.monotonic() - began
            rate = sent / elapsed
            fits = "yes" if rss <= 512 else "no"
            rows.append(
                [
                    label,
                    processes,
                    f"{rate:.1f}",
                    f"{rss:.0f}",
                    f"{pss:.0f}",
                    f"{rss / processes:.0f}",
                    fits,
                    f"{rate * min(1, 512 / rss):.1f}",
                ]
            )
    finally:
        stub.stop()
    report.table(
        [
            "worker",
            "processes",
            "emails/s",
            "RSS sum MB",
            "PSS sum MB",
            "RSS per process MB",
            "fits 512 MB (RSS)",
            "emails/s per 512 MB (RSS)",
        ],
        rows,
    )


def bench_cpu(report: Report, redis: RedisServer, quick: bool) -> None:
    full = 1000 if quick else 10_000
    forking = 200 if quick else 500
    report.add("## 3. CPU-bound throughput (SMTP sink answering at once, length 10)")
    report.add()
    rows = []
    with CountingSmtpSink() as sink:
        settings = settings_for(redis, smtp_url=sink.url)
        variants = [
            ("rq worker (RQ's default Worker, fork per job)", "rq-worker", forking, 1, {}),
            ("rq worker -w SimpleWorker", "rq-simple", full, 1, {}),
            ("python -m worker, WORKER_CONCURRENCY=1 (HerokuWorker, fork per job)", "project", forking, 1, {}),
            ("python -m worker, WORKER_CONCURRENCY=2 (2 in-process workers)", "project", full, 2, {"WORKER_CONCURRENCY": "2"}),
        ]
        if CELERY_PYTHON.exists():
            variants.append(("celery worker --pool prefork --concurrency 1", "celery", full, 1, {}))
        else:
            report.add(f"(Celery skipped: {CELERY_PYTHON} is missing; `make bench` creates it.)")
        for label, variant, count, processes, env in variants:
            fresh_redis(redis)
            if variant == "celery":
                publish = "from bench.celery_app import send_fibonacci_email as t\n"
                publish += f"for n in range({count}): t.delay(f'reader{{n}}@example.com', 10)"
                subprocess.run([str(CELERY_PYTHON), "-c", publish], env=environment_for(settings), cwd=PROJECT_ROOT, check=True)
            else:
                enqueue_jobs(redis, settings, count)
            before = sink.count
            with running(worker_command(variant, settings, f"cpu-{variant}-{processes}.log", **env)):
                wait_for(lambda: sink.count > before, timeout=60, what=f"{label}'s first email")  # noqa: B023
                began = time.monotonic()
                wait_for(lambda: sink.count - before >= count, timeout=600, interval=0.02, what=f"{label} to send {count}")  # noqa: B023
                elapsed = time.monotonic() - began
            rate = (count - 1) / elapsed
            rows.append([label, count, f"{elapsed:.1f}", f"{rate:.0f}", f"{rate / processes:.0f}"])
    report.table(["worker", "jobs", "seconds", "emails/s", "emails/s per worker process"], rows)
    report.add(f"Fork-per-job variants ran {forking} jobs instead of {full}, to stay inside the 10-minute budget.")
    report.add()


# 4. End-to-end latency ----------------------------------------------------------

# Other users' jobs while the probes run: steady, and well inside what the
# worker keeps up with (section 3), so the queue does not grow without end.
BACKGROUND_RATE = 30


def bench_latency(report: Report, redis: RedisServer, quick: bool) -> None:
    import http.client

    probes = 20 if quick else 60
    concurrency = 4
    report.add(f"## 4. End-to-end latency: POST /api/sequences → message accepted by the SMTP server (WORKER_CONCURRENCY={concurrency})")
    report.add()
    rows = []
    with CountingSmtpSink() as sink:
        settings = settings_for(redis, smtp_url=sink.url)
        fresh_redis(redis)
        web, port = start_web(settings, "latency-web")
        with running(web), running(worker_command("project", settings, "latency-worker.log", WORKER_CONCURRENCY=str(concurrency))):
            time.sleep(2)  # the pool's workers register

            def submit(connection: http.client.HTTPConnection, recipient: str, length: int = 10) -> None:
                body = json.dumps({"email": recipient, "length": length})
                try:
                    connection.request("POST", "/api/sequences", body=body, headers={"Content-Type": "application/json"})
                    connection.getresponse().read()
                finally:
                    connection.close()  # gunicorn's sync workers close it anyway

            def measure(label: str) -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                sent_at = {}
                for number in range(probes):
                    recipient = f"probe-{label.split()[0]}-{number}@example.com"
                    sent_at[recipient] = time.monotonic()
                    submit(connection, recipient)
                    time.sleep(0.1)
                with contextlib.suppress(TimeoutError):
                    wait_for(lambda: all(r in sink.accepted_at for r in sent_at), timeout=60, what="every probe's email")
                arrived = sum(r in sink.accepted_at for r in sent_at)
                if arrived < len(sent_at):
                    rows.append([label, f"{arrived} of {probes} arrived within 60 s", "-", "-"])
                    return
                latencies = sorted((sink.accepted_at[r] - t) * 1000 for r, t in sent_at.items())
                quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
                rows.append([label, probes, f"{quantiles[49]:.1f}", f"{quantiles[98]:.1f}"])

            measure("idle")
            stop = threading.Event()

            def background(rate: float = BACKGROUND_RATE) -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                number, began = 0, time.monotonic()
                while not stop.is_set():
                    with contextlib.suppress(OSError, http.client.HTTPException):
                        submit(connection, f"load{number}@example.com")
                    number += 1
                    delay = began + number / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)

            loader = threading.Thread(target=background, daemon=True)
            loader.start()
            time.sleep(1)
            measure(f"under load ({BACKGROUND_RATE} other jobs/s through the same web and worker)")
            stop.set()
            loader.join()
    report.table(["condition", "probes", "p50 ms", "p99 ms"], rows)


# 5. Fibonacci and email size ------------------------------------------------------


def bench_size(report: Report) -> None:
    report.add("## 5. Fibonacci and email size by length")
    report.add()
    rows = []
    for length in (10, 100, 250, 500, 750, MAX_LENGTH):
        runs = 200
        fib_us = timeit.timeit(lambda: fibonacci(length), number=runs) / runs * 1e6  # noqa: B023
        email_ms = timeit.timeit(lambda: fibonacci_email("a@example.com", "b@example.com", length), number=50) / 50 * 1000  # noqa: B023
        email = fibonacci_email("a@example.com", "b@example.com", length)
        mime = len(to_mime(email).as_bytes())
        rows.append(
            [
                length,
                f"{fib_us:.1f}",
                f"{email_ms:.2f}",
                len(email.text.encode()),
                len(email.html.encode()),
                mime,
                f"{len(email.text.encode()) / length**2:.3f}",
            ]
        )
    report.table(["length", "fibonacci µs", "render email ms", "text bytes", "html bytes", "MIME bytes", "text bytes / length²"], rows)


SECTIONS = ("peers-web", "peers-worker", "imports", "profile", "web", "gunicorn", "dyno", "cpu", "latency", "size")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="short runs, to check the harness")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    options = parser.parse_args()
    only = options.only.split(",")
    if shutil.which("redis-server") is None:
        print("redis-server is not on PATH (apt-get install redis-server)", file=sys.stderr)
        return 2
    report = Report()
    started = time.monotonic()
    report.add(f"# FibTastic benchmarks{' (--quick)' if options.quick else ''}")
    report.add()
    for line in machine_description():
        report.add(line)
    report.add(f"- Load average before: {load_average()} (`nproc` {os.cpu_count()}; other work on the machine shows here)")
    report.add()
    redis = RedisServer().start()
    try:
        if "peers-web" in only:
            bench_web_peers(report, redis, options.quick)
        if "peers-worker" in only:
            bench_worker_peers(report, redis, options.quick)
        if "imports" in only:
            bench_imports(report)
        if "profile" in only:
            bench_profile(report, redis, options.quick)
        if "web" in only:
            bench_web(report, redis, options.quick)
        if "gunicorn" in only:
            bench_worker_class(report, redis, options.quick)
        if "dyno" in only:
            bench_dyno(report, redis, options.quick)
        if "cpu" in only:
            bench_cpu(report, redis, options.quick)
        if "latency" in only:
            bench_latency(report, redis, options.quick)
        if "size" in only:
            bench_size(report)
    finally:
        redis.stop()
        report.save()
    report.add(f"Load average after: {load_average()}; total {time.monotonic() - started:.0f} s; process logs in {LOGS}")
    report.save()
    print(f"\nwritten to {RESULTS.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
