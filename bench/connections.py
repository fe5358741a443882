"""Section "connections": emails/s within a Heroku Key-Value Store plan's connection limit, web and dashboard included.

Each plan's redis-server has its limits (tests/support/redis_server.py: maxclients, maxmemory, noeviction), TLS
and a password, as Heroku serves it. The formation is the Procfile's web (WEB_CONCURRENCY=2, the queue dashboard
on) and worker, with traffic on the web meanwhile: a dashboard tab polling as rq-dashboard does, an uptime
monitor on /healthz, and submissions. One connection stays free for `heroku redis:cli`: the benchmark's own,
which reads INFO. WORKER_CONCURRENCY is the highest that fits, from connections counted at run time on an
unlimited Redis: each Redis client (CLIENT LIST) is matched to the process that holds its socket, for the web,
and for the worker at two concurrencies (their difference is the connections per pool process). The same
setting then sends on an unlimited Redis too, for the ratio.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import threading
import time
from collections import Counter

import psutil
from redis.exceptions import RedisError
from rq import Worker

from bench.harness import SENDGRID_DELAY, enqueue_jobs, redis_server, running, sendgrid_settings, start_web, start_worker
from tests.support.processes import wait_for
from tests.support.redis_server import HEROKU_REDIS_PLANS
from tests.support.sendgrid_stub import SendGridStub

GOALS = {"mini": 50, "premium-0": 100}  # emails/s
PASSWORD = "bench-password-" + "p" * 17
# Heroku's certificate is self-signed, so on a dyno (DYNO set) REDIS_VERIFY_CERTIFICATE defaults to off; so here.
UNVERIFIED = {"redis_verify_certificate": False}
DASHBOARD = {"RQ_DASHBOARD_USERNAME": "bench", "RQ_DASHBOARD_PASSWORD": "d" * 32}
AUTHORIZATION = "Basic " + base64.b64encode(f"bench:{'d' * 32}".encode()).decode()
POLL_SECONDS = 2.5  # rq-dashboard's default RQ_DASHBOARD_POLL_INTERVAL


class Traffic:
    """What the web serves while the worker sends; counts answers that are not 2xx."""

    def __init__(self, port: int) -> None:
        self.port, self.errors, self.stop = port, 0, threading.Event()
        self.threads = [threading.Thread(target=self.dashboard_tab, daemon=True), threading.Thread(target=self.users, daemon=True)]

    def request(self, method: str, path: str, body: dict | None = None) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Authorization": AUTHORIZATION, "Content-Type": "application/json"}
        try:
            connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
            self.errors += connection.getresponse().status >= 300
        except (OSError, http.client.HTTPException):
            self.errors += 1
        finally:
            connection.close()

    def dashboard_tab(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            for data in ("queues.json", "workers.json", "jobs/default/queued/8/asc/1.json"):
                self.request("GET", f"/rq/0/data/{data}")

    def users(self) -> None:
        number = 0
        while not self.stop.wait(0.2):
            number += 1
            self.request("POST", "/api/sequences", {"email": f"user{number}@example.com", "length": 10})
            if number % 10 == 0:
                self.request("GET", "/healthz")

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def connections_by_process(monitor, redis_port: int, roots: dict[str, int]) -> Counter:
    """Redis's clients (CLIENT LIST), each named by the process tree in ``roots`` that holds its socket."""
    owners = {}
    for name, pid in roots.items():
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                owners |= {c.laddr.port: name for c in process.net_connections("tcp") if c.raddr and c.raddr.port == redis_port}
    return Counter(owners.get(int(client["addr"].rsplit(":", 1)[1]), "other") for client in monitor.client_list())


def settled(count, seconds: float = 1.5):
    """``count()`` once it has not changed for ``seconds``: the formation idles."""
    last, since = count(), time.monotonic()
    while time.monotonic() - since < seconds:
        time.sleep(0.25)
        value = count()
        last, since = (value, time.monotonic()) if value != last else (last, since)
    return last


def calibrate(stub: SendGridStub) -> tuple[int, int, int]:
    """(web, worker base, per pool process) connections, counted on an unlimited Redis."""
    with redis_server(tls=True, password=PASSWORD) as server:
        monitor, settings = server.client(), sendgrid_settings(server.url, stub, **UNVERIFIED)
        web, port = start_web(settings, "connections-calibrate-web", **DASHBOARD)
        worker_counts = {}
        with running(web), Traffic(port):
            time.sleep(3 * POLL_SECONDS)
            for concurrency in (2, 4):
                worker = start_worker("project", settings, f"connections-calibrate-{concurrency}", WORKER_CONCURRENCY=str(concurrency))
                with running(worker):
                    wait_for(lambda: Worker.count(connection=monitor) >= concurrency, timeout=30, what=f"{concurrency} pool workers")  # noqa: B023
                    roots = {"web": web.pid, "worker": worker.pid}
                    counts = settled(lambda: connections_by_process(monitor, server.port, roots))  # noqa: B023
                    worker_counts[concurrency] = counts["worker"]
    per_process = (worker_counts[4] - worker_counts[2]) // 2
    return counts["web"], worker_counts[2] - 2 * per_process, per_process


def send(stub: SendGridStub, concurrency: int, window: float, plan: str | None) -> dict:
    """The formation on a Redis with ``plan``'s limits (None: unlimited): emails/s, peak connections, rejections."""
    with redis_server(tls=True, password=PASSWORD, plan=plan) as server:
        monitor, settings = server.client(), sendgrid_settings(server.url, stub, **UNVERIFIED)
        web, port = start_web(settings, f"connections-{plan}-web", **DASHBOARD)
        enqueue_jobs(settings, int(concurrency / SENDGRID_DELAY * (window + 8) * 1.3) + 50)
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                with contextlib.suppress(RedisError):  # a refused INFO shows in rejected_connections
                    peak[0] = max(peak[0], monitor.info("clients")["connected_clients"])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        before = len(stub.accepted)
        env = {"WORKER_CONCURRENCY": str(concurrency)}
        worker = start_worker("project", settings, f"connections-{plan}-worker", **env)
        with running(web), Traffic(port) as traffic, running(worker):
            with contextlib.suppress(TimeoutError):
                wait_for(lambda: len(stub.accepted) - before >= concurrency * 3, timeout=60, what="the worker to warm up")
            first, began = len(stub.accepted), time.monotonic()
            time.sleep(window)
            rate = (len(stub.accepted) - first) / (time.monotonic() - began)
            done.set()
            sampler.join()  # then one thread uses the benchmark's one connection
            held = connections_by_process(monitor, server.port, {"web": web.pid, "worker": worker.pid})
            sending = monitor.info("stats")["rejected_connections"]
        # Stopping counts too: Heroku sends SIGTERM at every deploy and daily restart.
        rejected = f"{sending} / {monitor.info('stats')['rejected_connections'] - sending}"
        return {"rate": rate, "peak": peak[0], "held": held, "rejected": rejected, "web_errors": traffic.errors}


def bench_connections(report, quick: bool, plan_concurrency: str = "") -> None:
    window = 4 if quick else 8
    chosen = dict((plan, int(value)) for plan, value in (item.split("=") for item in plan_concurrency.split(",") if item))
    stub = SendGridStub(delay=SENDGRID_DELAY).start()
    rows = []
    try:
        web, base, per_process = calibrate(stub)
        for plan, goal in GOALS.items():
            limit = HEROKU_REDIS_PLANS[plan][0]
            # The benchmark's own connection (heroku redis:cli's) is the 1.
            fits = (limit - 1 - web - base) // max(per_process, 1)
            concurrency = chosen.get(plan, max(fits, 1))
            limited, unlimited = send(stub, concurrency, window, plan), send(stub, concurrency, window, None)
            holds = limited["rate"] >= goal and limited["rejected"] == "0 / 0"
            shown = concurrency if plan in chosen or fits >= 1 else f"{concurrency} (none fits)"
            held = f"{limited['held']['web']} / {limited['held']['worker']}"
            rows.append([f"{plan} ({limit})", shown, f"{limited['rate']:.1f}", f"{limited['rate'] / unlimited['rate']:.2f}×"])
            rows[-1] += [f"{unlimited['rate']:.1f}", f"{limited['peak']} of {limit}", held, limited["rejected"], limited["web_errors"]]
            rows[-1] += [f"≥ {goal}: {'yes' if holds else '**no**'}"]
    finally:
        stub.stop()
    sendgrid = f"SendGrid stand-in, {SENDGRID_DELAY * 1000:.0f} ms"
    report.add(f"## Emails per second within a Heroku Key-Value Store plan's connections ({sendgrid}, TLS, password)")
    report.add()
    report.add(f"Counted at run time (CLIENT LIST, formation idle, dashboard polled): the web with its dashboard holds {web}")
    report.add(f"connections, the worker {base} plus {per_process} per pool process. WORKER_CONCURRENCY = (limit − 1 for")
    report.add(
        f"`heroku redis:cli` − {web} − {base}) ÷ {per_process}, unless given (--plan-concurrency). Rate over {window:g} s once warm, while"
    )
    report.add("the web serves a dashboard tab, a /healthz monitor and 5 submissions/s; the ratio is to the same setting on an")
    report.add("unlimited Redis in the same run. Peak: INFO clients' connected_clients, sampled every 20 ms, the benchmark's own included.")
    report.add()
    header = ["plan (connections)", "WORKER_CONCURRENCY", "emails/s", "ratio to unlimited", "unlimited emails/s", "peak connections"]
    report.table([*header, "web / worker at the end", "rejected sending / stopping", "web errors", "goal emails/s"], rows)
