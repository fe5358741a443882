"""What each import adds to a fresh process's unique memory (USS), in order.

A process that loads everything itself (no fork after the imports) pays this
ladder in private memory; a process forked after them shares it until it
writes to the pages. Run in its own process:

    python -m bench.import_cost worker   # or: web

prints one JSON list of [step, USS MiB after it, MiB added].
"""

from __future__ import annotations

import importlib
import json
import sys

import psutil

STEPS = {
    "worker": [
        "redis",
        "rq",
        "rq.worker_pool",
        "jobs.core.settings",
        "jobs.core.mail.sendgrid",
        "jobs.core.mail.smtp",
        "jinja2",
        "jobs.email_content",
        "sentry_sdk",
        "jobs.tasks",
        "worker.__main__",
        "worker.pool",
    ],
    "web": ["flask", "flask_wtf", "wtforms", "email_validator", "flask_limiter", "limits.storage", "rq", "sentry_sdk", "web"],
}


def uss_mib() -> float:
    return psutil.Process().memory_full_info().uss / 1024 / 1024


def main() -> None:
    rows = [["python itself (+ psutil, json)", round(uss_mib(), 1), 0.0]]
    for module in STEPS[sys.argv[1]]:
        before = uss_mib()
        importlib.import_module(module)
        after = uss_mib()
        rows.append([f"import {module}", round(after, 1), round(after - before, 1)])
    if sys.argv[1] == "worker":
        from jobs.email_content import fibonacci_email

        before = uss_mib()
        fibonacci_email("a@example.com", "b@example.com", 10)  # compiles the templates
        after = uss_mib()
        rows.append(["render one email (templates compiled)", round(after, 1), round(after - before, 1)])
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
