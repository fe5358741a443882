"""Redis restarts under a running worker, as in Heroku Key-Value Store
maintenance: the server stops and comes back on the same address with its
data (append-only file, as Heroku's persistent plans keep it). The worker
picks up again by itself, says so in a bounded number of lines, and every
job is sent exactly once: one restart while it is idle, one while it is in
the middle of an SMTP conversation with more jobs queued.
"""

from __future__ import annotations

import functools
import time
from collections import Counter

import pytest
from rq import Worker
from rq.job import Job

from jobs.core.connection import connect_redis, get_queue
from jobs.tasks import enqueue_fibonacci_email
from tests.support.mail_checks import assert_fibonacci_email
from tests.support.processes import environment_for, free_port
from tests.support.procfile import start_process_type
from tests.support.redis_server import RedisServer
from tests.support.reporting import logs, report_figures, wait_for_showing_logs
from tests.support.slow_smtp import StallingSmtpSink
from tests.support.worker_log import log_events, most_jobs_at_once, redis_lost_lines, traceback_reports

pytestmark = pytest.mark.slow

CONCURRENCY = pytest.mark.parametrize("concurrency", [1, 2], ids=["herokuworker", "pool"])
# Long enough for the worker to have noticed Redis gone a few times, so the
# count of its log lines says something about a longer outage too.
NOTICED_TIMES = 3
# The most the worker may write about one short outage: a few lines a second
# at most (RQ's reconnection attempts with growing pauses, its pubsub thread,
# heartbeat renewals, a finished send retrying its sent marker), never a
# traceback per attempt. RQ's scheduler process does die with a traceback
# (logged, and printed by multiprocessing), once; the worker starts another:
# https://github.com/rq/rq/issues/2189.
MOST_LOG_EVENTS = 30
MOST_TRACEBACKS = 2


@pytest.fixture
def persistent_redis(tmp_path):
    server = RedisServer(free_port(), persistent=True).start()
    yield server
    # Its log is in its own directory, which stop() removes; keep a copy.
    (tmp_path / "redis.log").write_text(server.output())
    server.stop()


@pytest.fixture
def stalling_sink():
    sink = StallingSmtpSink().start()
    yield sink
    sink.stop()


def fetch(job_id, connection) -> Job:
    return Job.fetch(job_id, connection=connection)


def delivered_to(sink, recipient: str) -> bool:
    with sink.lock:
        return any(mail.recipients == [recipient] for mail in sink.messages)


def restart_redis(redis_server, worker) -> tuple[float, str]:
    """Stop Redis, keep it away until the worker has noticed NOTICED_TIMES
    times, start it again on the same port. Returns when it answered, and
    what the worker wrote meanwhile."""
    since = len(worker.output())
    redis_server.stop(keep_data=True)
    wait_for_showing_logs(
        lambda: len(redis_lost_lines(worker.output()[since:])) >= NOTICED_TIMES,
        [worker],
        also=[redis_server],
        timeout=60,
        what="the worker to notice Redis gone",
    )
    redis_server.start()
    return time.monotonic(), worker.output()[since:]


def outage_log(output: str) -> dict:
    """How much the worker wrote while Redis was away."""
    return {
        "outage_log_events": len(log_events(output)),
        "outage_log_lines": len(output.splitlines()),
        "outage_tracebacks": traceback_reports(output),
    }


@CONCURRENCY
def test_an_idle_worker_picks_up_again_by_itself_after_redis_restarts(settings_with, smtp_sink, persistent_redis, tmp_path, concurrency):
    settings = settings_with(redis_url=persistent_redis.url, smtp_url=smtp_sink.url)
    worker = start_process_type("worker", environment_for(settings, WORKER_CONCURRENCY=str(concurrency)), tmp_path / "worker.log")
    wait = functools.partial(wait_for_showing_logs, processes=[worker], also=[persistent_redis])
    connection = connect_redis(persistent_redis.url)
    queue = get_queue(connection, settings)
    try:
        before = enqueue_fibonacci_email(queue, settings, "before@example.com", 5)
        wait(lambda: delivered_to(smtp_sink, "before@example.com"), timeout=30, what="the first email")
        # Idle: done recording that job, and waiting for the next (RQ's
        # state "idle"); a restart while it records is the busy case's.
        wait(
            lambda: (
                fetch(before.id, connection).get_status() == "finished"
                and [rq_worker.get_state() for rq_worker in Worker.all(queue=queue)] == ["idle"] * concurrency
            ),
            timeout=30,
            what="the worker to be idle",
        )
        back_at, during = restart_redis(persistent_redis, worker)
        job = enqueue_fibonacci_email(queue, settings, "after@example.com", 8)
        wait(lambda: delivered_to(smtp_sink, "after@example.com"), timeout=90, what="the next email")
        processing_again_s = time.monotonic() - back_at
        wait(lambda: fetch(job.id, connection).get_status() == "finished", timeout=15, what="the job finished")

        figures = outage_log(during)
        assert figures["outage_log_events"] <= MOST_LOG_EVENTS, logs(worker, persistent_redis)
        assert figures["outage_tracebacks"] <= MOST_TRACEBACKS, logs(worker, persistent_redis)
        recipients = sorted(mail.recipients[0] for mail in smtp_sink.messages)
        assert recipients == ["after@example.com", "before@example.com"], logs(worker, persistent_redis)
        after = next(mail for mail in smtp_sink.messages if mail.recipients == ["after@example.com"])
        assert_fibonacci_email(after, "after@example.com", 8)
        report_figures(
            f"redis-restart-idle-{concurrency}",
            {
                "worker_concurrency": concurrency,
                "redis_back_to_next_job_delivered_s": round(processing_again_s, 3),
                "times_worker_noticed_before_restart": NOTICED_TIMES,
                **figures,
            },
            tmp_path,
        )
    finally:
        connection.close()
        worker.stop()


@CONCURRENCY
def test_a_busy_worker_sends_every_job_exactly_once_across_a_redis_restart(
    settings_with, stalling_sink, persistent_redis, tmp_path, concurrency
):
    # MAIL_TIMEOUT well above the stall, so only Redis is in the way.
    settings = settings_with(redis_url=persistent_redis.url, smtp_url=stalling_sink.url, retry_intervals=(1, 1, 1), mail_timeout=60)
    # Heartbeats every second: the worker's own bookkeeping, not only its
    # idle connections, meets the outage while the job runs.
    env = environment_for(settings, WORKER_CONCURRENCY=str(concurrency), WORKER_JOB_MONITORING_INTERVAL="1")
    worker = start_process_type("worker", env, tmp_path / "worker.log")
    wait = functools.partial(wait_for_showing_logs, processes=[worker], also=[persistent_redis])
    connection = connect_redis(persistent_redis.url)
    queue = get_queue(connection, settings)
    try:
        wait(lambda: "Listening on" in worker.output(), timeout=30, what="the worker")
        # Every worker process in an SMTP conversation that stalls at RCPT TO
        # (the message not handed over yet)...
        stalling_sink.stall_seconds = 6
        busy = [enqueue_fibonacci_email(queue, settings, f"busy{n}@example.com", 5 + n) for n in range(concurrency)]
        wait(lambda: stalling_sink.stalls_started == concurrency, timeout=30, what="every worker process in an SMTP conversation")
        # ...and more jobs waiting in the queue.
        stalling_sink.stall_seconds = 0
        queued = [enqueue_fibonacci_email(queue, settings, f"queued{n}@example.com", 10 + n) for n in range(4)]
        assert queue.count == len(queued), logs(worker, persistent_redis)

        back_at, during = restart_redis(persistent_redis, worker)
        stall_ended_before_redis_was_back = stalling_sink.stalls_finished > 0
        jobs = busy + queued
        wait(lambda: delivered_to(stalling_sink, "busy0@example.com"), timeout=90, what="the job mid-way")
        running_job_done_s = time.monotonic() - back_at
        wait(lambda: delivered_to(stalling_sink, "queued0@example.com"), timeout=90, what="the first queued job")
        queued_job_done_s = time.monotonic() - back_at
        wait(lambda: len(stalling_sink.messages) >= len(jobs), timeout=90, what="every email")
        delivered_s = time.monotonic() - back_at
        wait(
            lambda: {fetch(job.id, connection).get_status() for job in jobs} == {"finished"},
            timeout=60,
            what="every job finished",
        )
        # Nothing still queued, running or waiting to retry that could send again.
        assert queue.count == 0 and queue.started_job_registry.count == 0 and queue.scheduled_job_registry.count == 0, logs(
            worker, persistent_redis
        )

        recipients = Counter(mail.recipients[0] for mail in stalling_sink.messages)
        expected = [f"busy{n}@example.com" for n in range(concurrency)] + [f"queued{n}@example.com" for n in range(4)]
        assert recipients == Counter(expected), logs(worker, persistent_redis)
        for mail in stalling_sink.messages:
            recipient = mail.recipients[0]
            number = int(recipient.split("@")[0].removeprefix("busy").removeprefix("queued"))
            assert_fibonacci_email(mail, recipient, (5 if recipient.startswith("busy") else 10) + number)
        # The worker kept watching the job it was running: it took no more
        # jobs at once than it is meant to.
        assert most_jobs_at_once(worker.output()) == concurrency, logs(worker, persistent_redis)
        figures = outage_log(during)
        assert figures["outage_log_events"] <= MOST_LOG_EVENTS, logs(worker, persistent_redis)
        assert figures["outage_tracebacks"] <= MOST_TRACEBACKS, logs(worker, persistent_redis)
        assert worker.popen.poll() is None, logs(worker, persistent_redis)
        report_figures(
            f"redis-restart-busy-{concurrency}",
            {
                "worker_concurrency": concurrency,
                "jobs_in_smtp_conversation": len(busy),
                "jobs_queued": len(queued),
                "stalled_conversation_ended_before_redis_was_back": stall_ended_before_redis_was_back,
                # The job mid-way ends when the stalled SMTP server lets it
                # (6 s after it started); the queued ones follow at once.
                "redis_back_to_running_job_delivered_s": round(running_job_done_s, 3),
                "redis_back_to_first_queued_job_delivered_s": round(queued_job_done_s, 3),
                "redis_back_to_all_delivered_s": round(delivered_s, 3),
                "emails": len(stalling_sink.messages),
                **figures,
            },
            tmp_path,
        )
    finally:
        connection.close()
        worker.stop()
