"""A worker dyno that starts while Redis does not answer (a restart during
Heroku Key-Value Store maintenance or a failover) waits for it instead of
exiting, and still stops at once when Heroku sends SIGTERM.

Exiting would not be harmless: Heroku restarts a crashed dyno with growing
cool-offs, so the queue could stall long after Redis is back.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import time

import pytest
from rq.job import Job

from jobs.core.connection import connect_redis, get_queue
from jobs.tasks import enqueue_fibonacci_email
from tests.support.mail_checks import assert_fibonacci_email
from tests.support.processes import environment_for, free_port
from tests.support.procfile import start_process_type
from tests.support.redis_server import RedisServer
from tests.support.reporting import logs, report_figures, wait_for_showing_logs
from tests.support.worker_log import waiting_for_redis_lines

pytestmark = pytest.mark.slow

CONCURRENCY = pytest.mark.parametrize("concurrency", ["1", "2"], ids=["herokuworker", "pool"])


def worker_before_redis(settings_with, smtp_url: str, tmp_path, concurrency: str):
    """The Procfile's worker, pointed at a port nothing listens on yet."""
    port = free_port()
    settings = settings_with(redis_url=f"redis://127.0.0.1:{port}/0", smtp_url=smtp_url)
    env = environment_for(settings, WORKER_CONCURRENCY=concurrency)
    return port, settings, start_process_type("worker", env, tmp_path / "worker.log")


@CONCURRENCY
def test_a_worker_started_before_redis_waits_for_it_then_delivers_exactly_once(settings_with, smtp_sink, tmp_path, concurrency):
    port, settings, worker = worker_before_redis(settings_with, smtp_sink.url, tmp_path, concurrency)
    redis_server = None
    try:
        # When each "waiting for redis" line appeared, to see the pauses grow.
        seen_at: list[float] = []

        def attempts(count: int):
            def enough():
                lines = waiting_for_redis_lines(worker.output())
                seen_at.extend(time.monotonic() for _ in range(len(lines) - len(seen_at)))
                return len(lines) >= count

            return enough

        wait_for_showing_logs(attempts(3), [worker], timeout=30, interval=0.02, what="three attempts to reach redis")
        output = worker.output()
        assert "Traceback" not in output, logs(worker)
        lines = waiting_for_redis_lines(output)
        # One line per attempt, each naming the pause before the next.
        pauses = [float(re.search(r"next try in ([\d.]+) s", line).group(1)) for line in lines]
        assert pauses[:3] == [1, 2, 4], logs(worker)
        gaps = [later - earlier for earlier, later in itertools.pairwise(seen_at[:3])]
        assert gaps[1] > gaps[0] + 0.5, f"pauses did not grow: {gaps}" + logs(worker)

        redis_server = RedisServer(port).start()
        redis_up = time.monotonic()
        connection = connect_redis(redis_server.url)
        job = enqueue_fibonacci_email(get_queue(connection, settings), settings, "early@example.com", 7)
        wait_for_showing_logs(lambda: smtp_sink.messages, [worker], timeout=30, what="the job's email")
        [received] = smtp_sink.messages
        first_job_done = time.monotonic()
        wait_for_showing_logs(
            lambda: Job.fetch(job.id, connection=connection).get_status() == "finished",
            [worker],
            timeout=15,
            what="the job to be recorded as finished",
        )
        assert_fibonacci_email(received, "early@example.com", 7)
        attempts_before_redis = len(waiting_for_redis_lines(worker.output()))

        # Exactly once: nothing more arrives up to the worker's (clean) stop.
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(30) == 0, logs(worker)
        assert len(smtp_sink.messages) == 1, logs(worker)
        assert "Traceback" not in worker.output(), logs(worker)
        connection.close()
        report_figures(
            f"worker-before-redis-{concurrency}",
            {
                "worker_concurrency": int(concurrency),
                "attempts_before_redis": attempts_before_redis,
                "announced_pauses_s": pauses,
                "observed_gaps_s": [round(gap, 3) for gap in gaps],
                "redis_up_to_first_job_done_s": round(first_job_done - redis_up, 3),
            },
            tmp_path,
        )
    finally:
        worker.stop()
        if redis_server:
            # Its log is in its own directory, which stop() removes; keep a copy.
            (tmp_path / "redis.log").write_text(redis_server.output())
            redis_server.stop()


@CONCURRENCY
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_worker_waiting_for_redis_stops_at_once_when_asked(settings_with, smtp_sink, tmp_path, concurrency, stop_signal):
    _, _, worker = worker_before_redis(settings_with, smtp_sink.url, tmp_path, concurrency)
    try:
        wait_for_showing_logs(lambda: waiting_for_redis_lines(worker.output()), [worker], timeout=30, what="the worker to wait for redis")
        asked = time.monotonic()
        # Heroku signals every process of the dyno, so the whole group here.
        os.killpg(worker.pid, stop_signal)
        returncode = worker.wait(30)
        stopped_in = time.monotonic() - asked
        assert returncode == 0, logs(worker)
        # Heroku allows 30 s before SIGKILL; waiting for Redis should not use them.
        assert stopped_in < 5, f"took {stopped_in:.1f} s" + logs(worker)
        assert "Traceback" not in worker.output(), logs(worker)
        report_figures(
            f"worker-stop-while-waiting-{concurrency}-{stop_signal.name}",
            {"worker_concurrency": int(concurrency), "signal": stop_signal.name, "signal_to_exit_s": round(stopped_in, 3)},
            tmp_path,
        )
    finally:
        worker.stop()
