"""1,000 submissions through gunicorn from 16 concurrent clients, 2 workers;
one worker is SIGKILLed and Redis restarts while they run. Exactly 1,000
distinct emails must arrive: none lost, none doubled. The SIGKILL lands
anywhere in a job except the at-least-once window (the provider may have the
email, nothing records it), where a second email is the documented outcome.

Redis runs with the append-only file (fsync on every write), as Heroku Redis
persists its data; without persistence a restart would empty the queue.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from rq.job import Job

from jobs.core.connection import get_queue
from tests.support.processes import environment_for, free_port, kill_tree_when, python_process, wait_for
from tests.support.procfile import start_process_type
from tests.support.redis_server import RedisServer
from tests.support.send_window import sending_unrecorded

pytestmark = pytest.mark.slow

SUBMISSIONS = 1000
CLIENTS = 16
KILL_WORKER_AFTER = 300  # accepted submissions
RESTART_REDIS_AFTER = 600


class LoadClient:
    """Submits one request per recipient; retries 503s (not accepted, says
    Retry-After) and counts only 202s."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.accepted: dict[str, str] = {}  # recipient -> job id
        self.refused = Counter()
        self.lock = threading.Lock()
        self.milestones = {KILL_WORKER_AFTER: threading.Event(), RESTART_REDIS_AFTER: threading.Event()}

    def submit(self, number: int) -> None:
        recipient = f"load-{number:04d}@example.com"
        body = json.dumps({"email": recipient, "length": 5}).encode()
        for _ in range(200):
            # One Idempotency-Key per request, kept across its retries: a 503
            # does not prove Redis did not store the job before failing.
            headers = {"Content-Type": "application/json", "Idempotency-Key": f"load-test-{number}"}
            request = urllib.request.Request(self.base + "/api/sequences", data=body, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 202
                    job_id = json.load(response)["job_id"]
            except urllib.error.HTTPError as error:
                assert error.code == 503, f"{recipient}: {error.code} {error.read()[:200]!r}"
                with self.lock:
                    self.refused[error.code] += 1
                # Honour Retry-After, capped so the test stays short.
                time.sleep(min(float(error.headers["Retry-After"]), 0.5))
                continue
            with self.lock:
                self.accepted[recipient] = job_id
                count = len(self.accepted)
            for milestone, event in self.milestones.items():
                if count >= milestone:
                    event.set()
            return
        raise AssertionError(f"{recipient} was never accepted")


def test_thousand_submissions_survive_a_killed_worker_and_a_redis_restart(settings_with, smtp_sink, tmp_path):
    redis_server = RedisServer(free_port(), persistent=True).start()
    port = free_port()
    settings = settings_with(
        redis_url=redis_server.url,
        smtp_url=smtp_sink.url,
        retry_intervals=(1, 1, 1, 1, 1),
        mail_timeout=10,
        rate_limit_per_ip="100000 per minute",
    )
    # Small worker intervals: a killed job counts as abandoned after 1 + 60 s.
    intervals = {"WORKER_JOB_MONITORING_INTERVAL": "1", "WORKER_MAINTENANCE_INTERVAL": "2"}
    env = environment_for(settings, PORT=str(port), WEB_CONCURRENCY="3", LOG_LEVEL="WARNING", **intervals)
    processes = []
    web = start_process_type("web", env, tmp_path / "web.log")
    processes.append(web)
    workers = [python_process(["-m", "worker"], env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    processes.extend(workers)
    store = redis.Redis.from_url(redis_server.url)
    base = f"http://127.0.0.1:{port}"
    client = LoadClient(base)
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/", timeout=1).status == 200, timeout=30, what="gunicorn")
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(client.submit, number) for number in range(SUBMISSIONS)]

            # Waits that count things give up only when the count stops moving
            # (progress=): on a busy machine everything is slower, not wrong.
            def accepted():
                return len(client.accepted)

            wait_for(client.milestones[KILL_WORKER_AFTER].is_set, timeout=60, what=f"{KILL_WORKER_AFTER} accepted", progress=accepted)
            # kill -9 one worker with its work-horse and scheduler, and start a
            # replacement, as Heroku does after a crash. Not between claiming
            # a send and recording it: a kill there may deliver twice, as
            # docs/guarantees.md says (tests/test_kill_outside_send_window.py).
            doomed = workers[0].pid
            kill_tree_when(doomed, lambda: not sending_unrecorded(store, doomed))
            workers[0].wait(10)
            replacement = python_process(["-m", "worker"], env, tmp_path / "worker-3.log")
            processes.append(replacement)

            wait_for(client.milestones[RESTART_REDIS_AFTER].is_set, timeout=60, what=f"{RESTART_REDIS_AFTER} accepted", progress=accepted)
            refused = client.refused[503]
            redis_server.stop(keep_data=True)
            # Down until the clients have met the outage, rather than for a set time.
            wait_for(lambda: client.refused[503] > refused, timeout=30, what="a 503 while Redis is down")
            redis_server.start()

            for future in futures:
                future.result()
        submitted_in = time.monotonic() - started

        assert len(client.accepted) == SUBMISSIONS
        assert len(set(client.accepted.values())) == SUBMISSIONS  # one job per accepted request

        def delivered():
            with smtp_sink.lock:
                return len({mail.recipients[0] for mail in smtp_sink.messages})

        # The killed worker's job waits 61 s to be found abandoned: more than that without a new email is a stall.
        wait_for(lambda: delivered() >= SUBMISSIONS, timeout=150, interval=1, what=f"{SUBMISSIONS} distinct emails", progress=delivered)
        # Let anything still queued, running or waiting to retry finish, so a
        # late duplicate would show up below.
        queue = get_queue(store, settings)

        def settled():
            return queue.count == 0 and queue.started_job_registry.count == 0 and queue.scheduled_job_registry.count == 0

        wait_for(settled, timeout=120, interval=1, what="the queue to settle")
        delivered_in = time.monotonic() - started

        recipients = Counter(mail.recipients[0] for mail in smtp_sink.messages)
        doubled = {recipient: n for recipient, n in recipients.items() if n > 1}
        assert not doubled, f"sent more than once: {doubled}"
        assert set(recipients) == set(client.accepted)
        assert len(smtp_sink.messages) == SUBMISSIONS
        statuses = Counter(Job.fetch(job_id, connection=store).get_status() for job_id in client.accepted.values())
        assert statuses == {"finished": SUBMISSIONS}
        print(
            f"\nload: {SUBMISSIONS} accepted in {submitted_in:.1f} s ({client.refused[503]} refused with 503 and retried), "
            f"all delivered and settled after {delivered_in:.1f} s"
        )
    finally:
        store.close()
        for process in processes:
            process.stop()
        redis_server.stop()
