"""Jobs for the tests of the at-most-once guard (tests/test_at_most_once.py).
Their side effect is counted in Redis, under the key the test passes."""

from __future__ import annotations

import time

from rq import get_current_job

from jobs.core.at_most_once import at_most_once, claim_key


@at_most_once
def count(counter: str) -> dict:
    return {"count": get_current_job().connection.incr(counter)}


@at_most_once
def report_claim_ttl(counter: str) -> dict:
    job = get_current_job()
    job.connection.incr(counter)
    return {"claim_ttl": job.connection.ttl(claim_key(job.id))}


@at_most_once
def count_then_fail(counter: str) -> dict:
    get_current_job().connection.incr(counter)
    raise RuntimeError("the side effect failed")


@at_most_once
def count_then_wait(counter: str, gate: str) -> dict:
    """Counts, then waits until the test sets the key ``gate``."""
    connection = get_current_job().connection
    started = connection.incr(counter)
    deadline = time.monotonic() + 120
    while not connection.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError("the test never opened the gate")
        time.sleep(0.05)
    return {"count": started}
