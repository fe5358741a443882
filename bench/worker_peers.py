"""Section "peers-worker": the Procfile's worker line against plain `rq worker`
and Celery (threads, and gevent when installed), all running the same email
code against the same SendGrid stand-in answering after 150 ms, in one run.

Each variant gets a full queue, warms up, and is counted over a window at the
stand-in; memory (PSS, USS, RSS summed over the variant's process tree,
bench/memory.py) is sampled mid-window, CPU per email over the window.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

from bench import memory
from bench.support import cpu_seconds
from tests.support.processes import PROJECT_ROOT, wait_for

SENDGRID_DELAY = 0.15


@dataclass
class WorkerVariant:
    label: str
    kind: str  # "project", "rq-worker", "celery"
    in_flight: int  # sends it can have waiting on the provider at once
    env: dict = field(default_factory=dict)
    celery_pool: str = ""

    def jobs_needed(self, seconds: float) -> int:
        return int(self.in_flight / SENDGRID_DELAY * seconds * 1.3) + 50


def celery_has_gevent(celery_python) -> bool:
    return subprocess.run([str(celery_python), "-c", "import gevent"], capture_output=True, check=False).returncode == 0


def variants(celery_python, quick: bool) -> list[WorkerVariant]:
    found = [
        WorkerVariant("Procfile worker, WORKER_CONCURRENCY=16", "project", 16, {"WORKER_CONCURRENCY": "16"}),
        WorkerVariant("rq worker (RQ's default Worker)", "rq-worker", 1),
    ]
    if not quick:
        found.append(WorkerVariant("Procfile worker, WORKER_CONCURRENCY=32", "project", 32, {"WORKER_CONCURRENCY": "32"}))
        # The stretch goal, 200 emails/s, needs more than 200 x 0.15 s = 30 sends in flight.
        found.append(WorkerVariant("Procfile worker, WORKER_CONCURRENCY=40", "project", 40, {"WORKER_CONCURRENCY": "40"}))
    if celery_python.exists():
        found.append(WorkerVariant("celery --pool threads --concurrency 16", "celery", 16, celery_pool="threads"))
        if celery_has_gevent(celery_python):
            found.append(WorkerVariant("celery --pool gevent --concurrency 16", "celery", 16, celery_pool="gevent"))
            found.append(WorkerVariant("celery --pool gevent --concurrency 64", "celery", 64, celery_pool="gevent"))
    return found


def celery_publish(celery_python, environment: dict, count: int) -> None:
    publish = "from bench.celery_app import send_fibonacci_email as task\n"
    publish += f"for number in range({count}): task.delay(f'reader{{number}}@example.com', 10)"
    subprocess.run([str(celery_python), "-c", publish], env=environment, cwd=PROJECT_ROOT, check=True)


def celery_args(celery_python, variant: WorkerVariant) -> list[str]:
    args = [str(celery_python), "-m", "celery", "-A", "bench.celery_app", "worker", "--pool", variant.celery_pool]
    args += [
        "--concurrency",
        str(variant.in_flight),
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return args


def run_variant(variant: WorkerVariant, stub, window: float, fill_queue, start_worker) -> dict:
    """``fill_queue(variant, count)`` enqueues; ``start_worker(variant)`` returns a running Process."""
    fill_queue(variant, variant.jobs_needed(window + 8))
    before = len(stub.accepted)
    process = start_worker(variant)
    try:
        wait_for(lambda: len(stub.accepted) - before >= variant.in_flight * 3, timeout=90, what=f"{variant.label} to warm up")
        first, began, cpu_before = len(stub.accepted), time.monotonic(), cpu_seconds(process.pid)
        time.sleep(window / 2)
        members = memory.tree(process.pid)
        sent_before_sample = len(stub.accepted) - before
        time.sleep(window / 2)
        sent, elapsed, cpu = len(stub.accepted) - first, time.monotonic() - began, cpu_seconds(process.pid) - cpu_before
    finally:
        process.stop()
    rates = {"rate": sent / elapsed, "cpu_ms": cpu * 1000 / max(sent, 1)}
    return {**rates, "members": members, "sent_before_sample": sent_before_sample, **memory.totals(members)}


def report_worker_peers(report, results: dict[str, dict], baseline: str, window: float) -> None:
    report.add(f"## Worker against its peers: SendGrid stand-in answering 202 after {SENDGRID_DELAY * 1000:.0f} ms, length 10")
    report.add()
    report.add(f"Counted over {window:g} s once warm; memory summed over each variant's process tree, sampled mid-window (psutil).")
    report.add("Memory can grow with the emails sent (it did before the mailer kept one SSL context per process), so the")
    report.add("last column says how much work each variant had done when its memory was sampled.")
    report.add("Goal: ≥ 100 emails/s within 512 MB of summed PSS (stretch 200/s).")
    report.add()
    base = results[baseline]["rate"]
    rows = []
    for label, result in results.items():
        fits = "yes" if result["pss"] <= 512 else "no"
        rows.append(
            [
                label,
                result["processes"],
                f"{result['rate']:.1f}",
                f"{result['rate'] / base:.2f}×",
                f"{result['pss']:.0f}",
                f"{result['uss']:.0f}",
                f"{result['rss']:.0f}",
                fits,
                f"{result['cpu_ms']:.1f}",
                result["sent_before_sample"],
            ]
        )
    report.table(
        [
            "worker",
            "processes",
            "emails/s",
            f"ratio to {baseline}",
            "PSS sum MB",
            "USS sum MB",
            "RSS sum MB",
            "≤ 512 MB PSS",
            "CPU ms per email",
            "emails sent when sampled",
        ],
        rows,
    )


def report_uss(report, label: str, members: list) -> None:
    """Per-process unique memory of one variant: the parent and a few children."""
    report.add(f"Per process, {label} (MiB; heap = private anonymous pages, i.e. Python objects):")
    report.add()
    children = [member for member in members if member.role != "parent"]
    shown = [member for member in members if member.role == "parent"] + children[:3]
    rows = [[member.role, f"{member.rss:.1f}", f"{member.pss:.1f}", f"{member.uss:.1f}", f"{member.heap_uss:.1f}"] for member in shown]
    if len(children) > 3:
        rest = children[3:]
        rows.append(
            [
                f"… {len(rest)} more children, mean",
                *(f"{sum(getattr(m, k) for m in rest) / len(rest):.1f}" for k in ("rss", "pss", "uss", "heap_uss")),
            ]
        )
    report.table(["process", "RSS", "PSS", "USS", "of which heap"], rows)
