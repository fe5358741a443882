"""A deploy under load, as Heroku does it without preboot: every process of
the running web dyno gets SIGTERM at once while a new dyno starts from the
Procfile, and 16 clients keep submitting through it. The worker dyno runs on.

Both dynos cannot listen on one port on one machine, so the new one gets a
new port, and the clients move to it when the old one refuses connections:
Heroku's router likewise retries a connection no dyno accepts (the
"connection refused" here, counted) and routes to the new dyno once it
listens. What no router can fix, and what this test checks, is a request
the old dyno accepted and never answered (Heroku's H13).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
from rq.job import Job

from tests.support.processes import descendant_pids, environment_for, free_port
from tests.support.procfile import start_process_type
from tests.support.reporting import logs, report_figures, wait_for_showing_logs

pytestmark = pytest.mark.slow

CLIENTS = 16
# Accepted submissions before the deploy, and by the new dyno after it.
BEFORE_DEPLOY = 150
AFTER_DEPLOY = 150
# Longer than any answer should take: a request that hangs fails the test.
CLIENT_TIMEOUT = 15
# A client that meets a closed port tries again this much later, as a router
# would; short, so the figures show the gap, not the clients' patience.
REFUSED_PAUSE = 0.05


@dataclass
class Attempt:
    """One HTTP request of one submission (a submission may take several)."""

    port: int
    request_id: str
    started: float
    connected: float | None = None  # the TCP connection was accepted
    ended: float | None = None
    outcome: int | str = ""  # HTTP status, or "refused", "reset", "timeout"
    job_id: str | None = None


class Router:
    """Which dyno the clients talk to: the old one until it refuses
    connections, then the new one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.next_port: int | None = None
        self.lock = threading.Lock()

    def refused(self, port: int) -> None:
        with self.lock:
            if port == self.port and self.next_port is not None:
                self.port, self.next_port = self.next_port, None


class DeployClients:
    """The LoadClient of test_load_with_faults, one attempt at a time: each
    submission has its own recipient and Idempotency-Key, kept across its
    retries (after a refused or cut connection, or a 503), and every
    attempt is recorded with its times."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.attempts: list[Attempt] = []
        self.accepted: dict[str, str] = {}  # recipient -> job id
        self.accepted_on: Counter = Counter()  # port -> accepted submissions
        self.lock = threading.Lock()
        self.numbers = itertools.count()
        self.stop = threading.Event()
        self.failures: list[str] = []

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.submit(next(self.numbers))
        except Exception as error:  # reported by the test, not lost in a thread
            with self.lock:
                self.failures.append(repr(error))

    def submit(self, number: int) -> None:
        recipient = f"deploy-{number:05d}@example.com"
        body = json.dumps({"email": recipient, "length": 5})
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"deploy-test-{number}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            attempt = self.attempt(body, headers)
            with self.lock:
                self.attempts.append(attempt)
            if attempt.outcome == 202:
                with self.lock:
                    self.accepted[recipient] = attempt.job_id
                    self.accepted_on[attempt.port] += 1
                return
            if attempt.outcome == "refused":
                self.router.refused(attempt.port)
                time.sleep(REFUSED_PAUSE)
            elif attempt.outcome == 503:
                time.sleep(0.5)  # Retry-After says 5; capped so the test stays short
            elif attempt.outcome not in ("reset", "timeout"):
                raise AssertionError(f"{recipient}: answered {attempt.outcome}")
            # reset or timeout: unknown whether it was stored; the same
            # Idempotency-Key makes trying again safe.
        raise AssertionError(f"{recipient} was never accepted")

    def attempt(self, body: str, headers: dict) -> Attempt:
        port = self.router.port
        # Our own request id, so the web's access log shows which attempts it saw.
        attempt = Attempt(port=port, request_id=uuid.uuid4().hex, started=time.monotonic())
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
        try:
            try:
                connection.connect()
            except ConnectionRefusedError:
                attempt.outcome = "refused"
                return attempt
            attempt.connected = time.monotonic()
            connection.request("POST", "/api/sequences", body, {**headers, "X-Request-ID": attempt.request_id})
            response = connection.getresponse()
            payload = response.read()
            attempt.outcome = response.status
            if response.status == 202:
                attempt.job_id = json.loads(payload)["job_id"]
        except TimeoutError:
            attempt.outcome = "timeout"
        except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead):
            # ConnectionResetError, BrokenPipeError, or closed without an answer.
            attempt.outcome = "reset"
        finally:
            attempt.ended = time.monotonic()
            connection.close()
        return attempt


@pytest.mark.parametrize("web_concurrency", ["2", "3"])
def test_a_deploy_under_load_answers_every_accepted_request_and_sends_every_email_once(
    settings_with, smtp_sink, redis_conn, queue, tmp_path, web_concurrency
):
    settings = settings_with(smtp_url=smtp_sink.url, rate_limit_per_ip="100000 per minute")
    old_port, new_port = free_port(), free_port()
    worker = start_process_type("worker", environment_for(settings), tmp_path / "worker.log")
    old_web = start_process_type(
        "web", environment_for(settings, PORT=str(old_port), WEB_CONCURRENCY=web_concurrency), tmp_path / "web-old.log"
    )
    new_web = None
    processes = [worker, old_web]
    router = Router(old_port)
    clients = DeployClients(router)
    threads = [threading.Thread(target=clients.run, name=f"client-{n}") for n in range(CLIENTS)]
    try:
        wait_for_showing_logs(lambda: _healthy(old_port), processes, timeout=30, what="the old web dyno")
        for thread in threads:
            thread.start()
        # Waits that count things give up only when the count stops moving
        # (progress=): on a busy machine everything is slower, not wrong.
        wait_for_showing_logs(
            lambda: clients.accepted_on[old_port] >= BEFORE_DEPLOY or clients.failures,
            processes,
            timeout=60,
            what="load on the old dyno",
            progress=lambda: clients.accepted_on[old_port],
        )

        # The deploy: SIGTERM to every process of the old dyno at once (its
        # process group: gunicorn's master and workers), and the new dyno starts.
        dyno = [old_web.pid, *descendant_pids(old_web.pid)]
        assert len(dyno) == 1 + int(web_concurrency), logs(old_web)
        assert {os.getpgid(pid) for pid in dyno} == {old_web.pid}, logs(old_web)
        router.next_port = new_port
        sigterm_at = time.monotonic()
        os.killpg(old_web.pid, signal.SIGTERM)
        new_web = start_process_type(
            "web", environment_for(settings, PORT=str(new_port), WEB_CONCURRENCY=web_concurrency), tmp_path / "web-new.log"
        )
        processes = [worker, new_web]
        old_exit_code = old_web.wait(30)
        old_exited_at = time.monotonic()

        wait_for_showing_logs(
            lambda: clients.accepted_on[new_port] >= AFTER_DEPLOY or clients.failures,
            processes,
            timeout=60,
            what="load on the new dyno",
            progress=lambda: clients.accepted_on[new_port],
        )
        clients.stop.set()
        for thread in threads:
            thread.join(CLIENT_TIMEOUT * 5)
        all_logs = logs(old_web, new_web, worker)
        assert not clients.failures, f"{clients.failures}{all_logs}"
        assert old_exit_code == 0, all_logs

        attempts = clients.attempts
        answered = [attempt for attempt in attempts if isinstance(attempt.outcome, int)]
        server_errors = [attempt for attempt in answered if attempt.outcome >= 500]
        refused = [attempt for attempt in attempts if attempt.outcome == "refused"]
        # Accepted by a dyno (the TCP connection was) and never answered.
        cut = [attempt for attempt in attempts if attempt.connected is not None and not isinstance(attempt.outcome, int)]
        # Connected to the old dyno before SIGTERM and not answered by then.
        in_flight = [
            attempt
            for attempt in attempts
            if attempt.port == old_port and attempt.connected is not None and attempt.connected < sigterm_at < attempt.ended
        ]
        assert not server_errors, f"{Counter(attempt.outcome for attempt in server_errors)}{all_logs}"
        assert not cut, f"accepted and never answered: {cut[:5]} ({len(cut)} in all){all_logs}"
        # The test means something only if the deploy met requests mid-way.
        assert in_flight, all_logs
        assert all(attempt.outcome == 202 for attempt in in_flight), all_logs
        old_web_log = old_web.output()
        assert all(attempt.request_id in old_web_log for attempt in in_flight), "answered by the old dyno" + all_logs
        # Nothing else either: no 4xx, no timeout.
        assert set(Counter(attempt.outcome for attempt in attempts)) <= {202, "refused"}, all_logs

        # Every accepted submission: exactly one email, whichever dyno took it.
        assert len(set(clients.accepted.values())) == len(clients.accepted), all_logs
        wait_for_showing_logs(
            lambda: len(smtp_sink.messages) >= len(clients.accepted),
            [worker],
            timeout=60,
            interval=0.5,
            what="every email",
            progress=lambda: len(smtp_sink.messages),
        )
        wait_for_showing_logs(
            lambda: queue.count == 0 and queue.started_job_registry.count == 0 and queue.scheduled_job_registry.count == 0,
            [worker],
            timeout=60,
            interval=0.5,
            what="the queue to settle",
        )
        delivered = Counter(mail.recipients[0] for mail in smtp_sink.messages)
        assert {recipient for recipient, count in delivered.items() if count > 1} == set(), logs(worker)
        assert set(delivered) == set(clients.accepted), logs(worker)
        statuses = Counter(Job.fetch(job_id, connection=redis_conn).get_status() for job_id in clients.accepted.values())
        assert statuses == {"finished": len(clients.accepted)}, logs(worker)
        assert worker.popen.poll() is None and "Traceback" not in worker.output(), logs(worker)

        first_refused = min((attempt.started for attempt in refused), default=None)
        first_new_connection = min(attempt.connected for attempt in attempts if attempt.port == new_port and attempt.connected)
        report_figures(
            f"deploy-under-load-web{web_concurrency}",
            {
                "web_concurrency": int(web_concurrency),
                "processes_signalled": len(dyno),
                "clients": CLIENTS,
                "submissions_accepted": len(clients.accepted),
                "accepted_by_old_dyno": clients.accepted_on[old_port],
                "accepted_by_new_dyno": clients.accepted_on[new_port],
                "emails_delivered": len(smtp_sink.messages),
                "in_flight_at_sigterm": len(in_flight),
                "in_flight_outcomes": dict(Counter(str(attempt.outcome) for attempt in in_flight)),
                "answered_by_old_dyno_after_sigterm": sum(1 for a in answered if a.port == old_port and a.connected > sigterm_at),
                "connection_refused": len(refused),
                # From the first refused connection (the old dyno stopped
                # listening) to the new dyno accepting one.
                "no_dyno_listening_s": round(first_new_connection - first_refused, 3) if first_refused else 0.0,
                "sigterm_to_first_answer_from_new_dyno_s": round(
                    min(attempt.ended for attempt in answered if attempt.port == new_port) - sigterm_at, 3
                ),
                "sigterm_to_old_master_exit_s": round(old_exited_at - sigterm_at, 3),
                "responses_5xx": len(server_errors),
                "connections_cut_without_answer": len(cut),
                "attempts": len(attempts),
            },
            tmp_path,
        )
    finally:
        clients.stop.set()
        for process in (old_web, new_web, worker):
            if process:
                process.stop()


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    finally:
        connection.close()
