"""The load test's SIGKILL stays out of the at-least-once window. The sink
stores the email and holds its 250, so the work-horse is in the window when
the kill is asked for; kill_tree_when waits until the send is recorded, and
exactly one email arrives. kill_tree at that moment (the old load test) gives two."""

from __future__ import annotations

import asyncio
import threading

import pytest
from rq.job import Job

from jobs.core.at_most_once import is_done
from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import environment_for, kill_tree_when, python_process, wait_for
from tests.support.send_window import sending_unrecorded
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow


class ReplyHoldingSink(SmtpSink):
    """Stores each message, then answers 250 only once ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.stored = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        self.stored.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return reply


@pytest.fixture
def holding_sink():
    sink = ReplyHoldingSink().start()
    yield sink
    sink.release.set()
    sink.stop()


def test_a_kill_asked_for_inside_the_send_window_waits_until_the_send_is_recorded(settings_with, holding_sink, redis_conn, queue, tmp_path):
    settings = settings_with(smtp_url=holding_sink.url, retry_intervals=(1, 1), mail_timeout=30)
    env = environment_for(settings, WORKER_JOB_MONITORING_INTERVAL="1", WORKER_MAINTENANCE_INTERVAL="2")
    job = enqueue_fibonacci_email(queue, settings, "window@example.com", 5)
    doomed = python_process(["-m", "worker"], env, tmp_path / "doomed.log")
    deferred = threading.Event()
    killed: list[int] = []
    try:
        assert holding_sink.stored.wait(30), doomed.output()  # the provider has it; the worker awaits the 250
        killer = threading.Thread(
            target=lambda: killed.extend(
                kill_tree_when(doomed.pid, lambda: not sending_unrecorded(redis_conn, doomed.pid), on_defer=deferred.set)
            )
        )
        killer.start()
        assert deferred.wait(30), "the kill should have been held back"
        assert doomed.popen.poll() is None
        assert not is_done(redis_conn, job.id)
        holding_sink.release.set()  # the 250 goes out; the job records the send; now the kill may land
        killer.join(30)
        assert killed and doomed.pid in killed
        doomed.wait(10)
    finally:
        holding_sink.release.set()
        doomed.stop()
    assert is_done(redis_conn, job.id)

    replacement = python_process(["-m", "worker"], env, tmp_path / "replacement.log")
    try:
        wait_for(
            lambda: Job.fetch(job.id, connection=redis_conn).get_status() == "finished",
            timeout=150,
            interval=0.5,
            what="the job to finish",
        )
    finally:
        replacement.stop()
    assert [mail.recipients for mail in holding_sink.messages] == [["window@example.com"]]
