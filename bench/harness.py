"""What the benchmark sections share: settings, the processes from the Procfile (and the peers'), a throwaway
Redis, jobs enqueued as the web enqueues them, and CPU and memory of a process tree."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
from redis import Redis

from jobs.core.connection import connect_redis, get_queue, redis_client_url
from jobs.core.settings import Settings
from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import PROJECT_ROOT, Process, environment_for, free_port, wait_for
from tests.support.procfile import read_procfile, start_process_type
from tests.support.redis_server import RedisServer

CELERY_PYTHON = PROJECT_ROOT / ".venv-celery" / "bin" / "python"
LOGS = Path(tempfile.mkdtemp(prefix="fibtastic-bench-"))
# What the SendGrid stand-in waits before answering 202: SendGrid's own latency, about.
SENDGRID_DELAY = 0.15
# The rate limits stay on (their Redis round trips are part of a request's cost) but far above the load.
BENCH_RATE_LIMIT = "1000000 per minute"


@contextlib.contextmanager
def redis_server(**options) -> Iterator[RedisServer]:
    server = RedisServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


def settings_for(redis_url: str, **changes) -> Settings:
    limits = {"rate_limit_per_ip": BENCH_RATE_LIMIT, "rate_limit_per_recipient": BENCH_RATE_LIMIT}
    return Settings(redis_url=redis_url, secret_key="bench-" + "x" * 40, **{**limits, **changes})


def sendgrid_settings(redis_url: str, stub, **changes) -> Settings:
    return settings_for(redis_url, sendgrid_api_key=stub.api_key, sendgrid_api_host=stub.host, **changes)


def fresh_redis(url: str) -> Redis:
    connection = connect_redis(url)
    connection.flushdb()
    return connection


def start_web(settings: Settings, name: str, app: str | None = None, **env: str) -> tuple[Process, int]:
    """The Procfile's web line (gunicorn.conf.py, WEB_CONCURRENCY=2), with ``app`` in place of the real one if given."""
    port = free_port()
    environment = environment_for(settings, PORT=str(port), LOG_LEVEL="WARNING", WEB_CONCURRENCY="2", **env)
    command = read_procfile()["web"]
    if app is not None:
        command = command.replace('"web:create_app()"', f'"{app}"')
    process = Process(["bash", "-c", "exec " + command], environment, LOGS / f"{name}.log")
    wait_for(lambda: answers_http(process, port), timeout=30, what=f"{name} on port {port}")
    return process, port


def answers_http(process: Process, port: int) -> bool:
    """True once gunicorn's workers answer (gunicorn's master listens before they boot, and exits if they cannot)."""
    if process.popen.poll() is not None:
        raise RuntimeError(f"gunicorn exited at start:\n{process.output()[-3000:]}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # any answer: the bare peer has no "/"
    except OSError:
        return False


def start_worker(kind: str, settings: Settings, name: str, **env: str) -> Process:
    """``project``: the Procfile's worker line; ``rq-worker``: RQ's own command; ``celery:<pool>:<concurrency>``."""
    environment = environment_for(settings, LOG_LEVEL="WARNING", **env)
    if kind == "project":
        return start_process_type("worker", environment, LOGS / f"{name}.log")
    if kind == "rq-worker":
        args = ["rq", "worker", "--url", settings.redis_url, "--logging_level", "WARNING", settings.queue_name]
    else:
        _, pool, concurrency = kind.split(":")
        args = [str(CELERY_PYTHON), "-m", "celery", "-A", "bench.celery_app", "worker", "--pool", pool, "--concurrency", concurrency]
        args += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return Process(args, environment, LOGS / f"{name}.log")


def enqueue_jobs(settings: Settings, count: int, kind: str = "project") -> None:
    """``count`` jobs of length 10, as the web enqueues them (jobs.tasks), or as Celery's task for Celery."""
    if kind.startswith("celery"):
        publish = "from bench.celery_app import send_fibonacci_email as task\n"
        publish += f"for number in range({count}): task.delay(f'reader{{number}}@example.com', 10)"
        subprocess.run([str(CELERY_PYTHON), "-c", publish], env=environment_for(settings), cwd=PROJECT_ROOT, check=True)
        return
    with connect_redis(redis_client_url(settings)) as connection:  # closed after: section "connections" counts them
        queue = get_queue(connection, settings)
        for number in range(count):
            enqueue_fibonacci_email(queue, settings, f"reader{number}@example.com", 10)


def tree_usage(pid: int) -> dict:
    """CPU seconds so far (reaped children included: RQ's work-horses) and memory now, over ``pid``'s tree.

    PSS shares each page among the processes mapping it, so summed over a dyno's processes it is what the
    dyno's memory cgroup is charged; USS is what one process alone holds (psutil's memory_full_info).
    """
    root = psutil.Process(pid)
    cpu, pss, children = 0.0, 0.0, []
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times, memory = process.cpu_times(), process.memory_full_info()
            cpu += times.user + times.system + times.children_user + times.children_system
            pss += memory.pss / 2**20
            children += [memory.uss / 2**20] if process.pid != pid else []
    child_uss = sum(children) / len(children) if children else None
    return {"cpu": cpu, "pss": pss, "processes": 1 + len(children), "child_uss": child_uss}
