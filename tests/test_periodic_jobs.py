"""Periodic jobs (jobs/schedule.py) run by the worker dyno itself: RQ's
CronScheduler in a child of ``python -m worker`` (worker/cron.py).

The worker tests use a schedule with a seconds field (``* * * * * */5``:
every 5 s), which RQ's cron expressions accept, so they take seconds, not
minutes, and go through the same setting and code as ``*/10 * * * *``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from datetime import datetime, timedelta

import pytest
from rq import Queue
from rq.cron import CronScheduler
from rq.job import Job

from jobs.core.connection import connect_redis, get_queue
from jobs.core.settings import ConfigurationError, load_settings
from jobs.queue_report import report_queue
from jobs.schedule import periodic_jobs
from tests.support.processes import descendant_pids, environment_for, free_port, process_state, python_process, wait_for
from tests.support.redis_server import RedisServer
from tests.support.worker_log import traceback_reports
from worker.cron import ClaimingCronScheduler, claim_key


def queue_reports(queue: Queue) -> list[Job]:
    """Queue-report jobs the schedulers enqueued, wherever they are now."""
    ids = {
        *queue.job_ids,
        *queue.started_job_registry.get_job_ids(cleanup=False),
        *queue.finished_job_registry.get_job_ids(cleanup=False),
        *queue.failed_job_registry.get_job_ids(cleanup=False),
    }
    jobs = [queue.fetch_job(job_id) for job_id in ids]
    return [job for job in jobs if job is not None and job.meta.get("periodic_job") == "queue-report"]


def finished(jobs: list[Job]) -> list[Job]:
    return [job for job in jobs if job.get_status() == "finished"]


def tick_of(job: Job) -> datetime:
    return datetime.fromisoformat(job.meta["tick"])


def start_worker(settings, tmp_path, name, schedule, **env):
    return python_process(["-m", "worker"], environment_for(settings, QUEUE_REPORT_SCHEDULE=schedule, **env), tmp_path / f"{name}.log")


def running_schedulers(redis_conn) -> list[CronScheduler]:
    return CronScheduler.all(redis_conn)


# --- the setting and the list ------------------------------------------------


def test_the_queue_report_runs_every_ten_minutes_unless_told_otherwise():
    assert load_settings({}).queue_report_schedule == "*/10 * * * *"
    assert load_settings({"QUEUE_REPORT_SCHEDULE": " 0 3 * * * "}).queue_report_schedule == "0 3 * * *"
    assert load_settings({"QUEUE_REPORT_SCHEDULE": "* * * * * */5"}).queue_report_schedule == "* * * * * */5"
    [job] = periodic_jobs(load_settings({}))
    assert (job.name, job.cron, job.function) == ("queue-report", "*/10 * * * *", report_queue)


@pytest.mark.parametrize("value", ["", "  ", "off", "OFF"])
def test_empty_or_off_turns_the_queue_report_off(value):
    settings = load_settings({"QUEUE_REPORT_SCHEDULE": value})
    assert settings.queue_report_schedule is None
    assert periodic_jobs(settings) == []


@pytest.mark.parametrize("value", ["every 10 minutes", "*/10 * * *", "61 * * * *"])
def test_a_schedule_that_is_not_a_cron_expression_is_refused_by_name(value):
    with pytest.raises(ConfigurationError, match="QUEUE_REPORT_SCHEDULE must be a cron expression"):
        load_settings({"QUEUE_REPORT_SCHEDULE": value})


def test_a_bad_schedule_stops_the_worker_at_start_with_the_reason(settings, tmp_path):
    worker = start_worker(settings, tmp_path, "refused", "every 10 minutes")
    try:
        assert worker.wait(30) != 0
    finally:
        worker.stop()
    output = worker.output()
    assert "QUEUE_REPORT_SCHEDULE must be a cron expression" in output
    assert "Traceback" not in output


# --- claiming ticks, in process with a real Redis ----------------------------


def test_two_schedulers_due_for_the_same_tick_enqueue_it_once(settings_with, redis_conn, queue):
    settings = settings_with(queue_report_schedule="* * * * * *")
    first, second = (ClaimingCronScheduler(redis_conn, settings) for _ in range(2))
    for scheduler in (first, second):
        scheduler.register(report_queue, settings.queue_name, cron="* * * * * *", name="queue-report")
    [first_job], [second_job] = first.get_jobs(), second.get_jobs()
    tick = first_job.next_enqueue_time
    assert second_job.next_enqueue_time == tick  # a cron tick is the same in every scheduler
    wait_for(lambda: first_job.should_run() and second_job.should_run(), timeout=5, what="the tick to fall due")

    assert first.enqueue_jobs() == [first_job]
    assert second.enqueue_jobs() == [second_job]  # due, and passed over: the tick is taken

    [job] = queue_reports(queue)
    assert tick_of(job) == tick
    assert redis_conn.get(claim_key("queue-report", tick)) == first.name.encode()
    # Both moved on to the next tick.
    assert first_job.next_enqueue_time == second_job.next_enqueue_time == tick + timedelta(seconds=1)


def test_a_claim_outlives_its_tick_and_lets_its_owner_try_again(settings, redis_conn):
    scheduler, other = ClaimingCronScheduler(redis_conn, settings), ClaimingCronScheduler(redis_conn, settings)
    cron_job = scheduler.register(report_queue, settings.queue_name, cron="*/10 * * * *", name="queue-report")
    tick = cron_job.next_enqueue_time
    assert scheduler.claim(cron_job, tick)
    # Its owner again (it lost Redis between claiming and enqueueing): still its own.
    assert scheduler.claim(cron_job, tick)
    assert not other.claim(cron_job, tick)
    # An hour at least, so a scheduler that fell behind still finds it taken.
    assert redis_conn.ttl(claim_key("queue-report", tick)) > 59 * 60


# --- real worker processes ----------------------------------------------------


@pytest.mark.slow
def test_the_worker_enqueues_and_runs_the_queue_report_on_its_ticks(settings, redis_conn, queue, tmp_path):
    worker = start_worker(settings, tmp_path, "worker", "* * * * * */5")
    try:
        wait_for(lambda: len(finished(queue_reports(queue))) >= 2, timeout=40, interval=0.2, what="two queue reports to run")
    finally:
        assert worker.stop() == 0
    done = sorted(finished(queue_reports(queue)), key=tick_of)
    ticks = [tick_of(job) for job in done]
    assert len(set(ticks)) == len(ticks)
    for job, tick in zip(done, ticks, strict=True):
        # On a tick of the schedule, enqueued when it fell due, before the next one.
        assert tick.second % 5 == 0 and tick.microsecond == 0
        assert tick <= job.enqueued_at < tick + timedelta(seconds=5)
        assert set(job.return_value()) == {"queued", "started", "scheduled", "failed"}
        # Through the project's enqueue policy: its retries and failure callback.
        assert job.retries_left == len(settings.retry_intervals)
        assert job.failure_callback is not None
    output = worker.output()
    assert 'msg="periodic jobs: queue-report (* * * * * */5)"' in output
    assert output.count('logger=jobs.queue_report msg="queue report queue=default queued=') >= 2
    assert traceback_reports(output) == 0


@pytest.mark.slow
def test_two_worker_dynos_enqueue_each_tick_once(settings, redis_conn, queue, tmp_path):
    # One of each kind: a HerokuWorker dyno and a pool dyno.
    workers = [
        start_worker(settings, tmp_path, "one", "* * * * * *"),
        start_worker(settings, tmp_path, "pool", "* * * * * *", WORKER_CONCURRENCY="2"),
    ]
    try:
        wait_for(lambda: len(running_schedulers(redis_conn)) == 2, timeout=30, what="both dynos' schedulers")
        both_running_since = datetime.now().astimezone()
        wait_for(
            lambda: len({tick_of(job) for job in queue_reports(queue) if tick_of(job) > both_running_since}) >= 6,
            timeout=40,
            interval=0.2,
            what="six ticks while both schedulers run",
        )
    finally:
        for worker in workers:
            assert worker.stop() == 0, worker.output()
    per_tick = Counter(tick_of(job) for job in queue_reports(queue))
    assert len([tick for tick in per_tick if tick > both_running_since]) >= 6
    assert {tick: count for tick, count in per_tick.items() if count != 1} == {}


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["", "off"])
def test_turned_off_the_worker_runs_no_scheduler(settings, redis_conn, tmp_path, schedule):
    worker = start_worker(settings, tmp_path, "worker", schedule)
    try:
        # RQ's own scheduler (for retries) started: the worker is running.
        wait_for(lambda: "Scheduler for default started" in worker.output(), timeout=30, what="the worker to run")
        # The periodic jobs' scheduler would be forked before the worker starts.
        assert len(descendant_pids(worker.pid)) == 1
        assert running_schedulers(redis_conn) == []
    finally:
        assert worker.stop() == 0
    assert "periodic jobs" not in worker.output()


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", ["1", "2"])
@pytest.mark.parametrize("to_whole_dyno", [False, True], ids=["sigterm-to-worker", "sigterm-to-dyno"])
def test_sigterm_stops_the_scheduler_with_the_worker(settings, redis_conn, queue, tmp_path, concurrency, to_whole_dyno):
    worker = start_worker(settings, tmp_path, "worker", "* * * * * *", WORKER_CONCURRENCY=concurrency)
    try:
        [scheduler] = wait_for(lambda: running_schedulers(redis_conn), timeout=30, what="the scheduler")
        wait_for(lambda: queue_reports(queue), timeout=30, what="a queue report")
        assert scheduler.pid in descendant_pids(worker.pid)
        if to_whole_dyno:  # as Heroku does: every process of the dyno
            os.killpg(worker.pid, signal.SIGTERM)
        else:  # as Ctrl-C in some process managers, or kill <pid>
            worker.send_signal(signal.SIGTERM)
        assert worker.wait(25) == 0, worker.output()
    finally:
        worker.stop()
    assert process_state(scheduler.pid) is None  # no orphan left scheduling
    assert running_schedulers(redis_conn) == []  # it said goodbye to Redis (RQ's registry)
    assert "stop requested" in worker.output()
    assert traceback_reports(worker.output()) == 0


@pytest.mark.slow
def test_a_scheduler_whose_worker_was_killed_stops_on_its_own(settings, redis_conn, tmp_path):
    worker = start_worker(settings, tmp_path, "worker", "* * * * * *")
    strays: list[int] = []
    try:
        [scheduler] = wait_for(lambda: running_schedulers(redis_conn), timeout=30, what="the scheduler")
        strays = descendant_pids(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)  # the worker alone, not its children
        worker.wait(10)
        wait_for(lambda: process_state(scheduler.pid) is None, timeout=15, what="the orphaned scheduler to stop")
    finally:
        worker.stop()
        for pid in strays:  # RQ's own scheduler, orphaned too
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert running_schedulers(redis_conn) == []


@pytest.mark.slow
def test_burst_mode_runs_no_scheduler(settings, redis_conn, tmp_path):
    worker = python_process(
        ["-m", "worker", "--burst"], environment_for(settings, QUEUE_REPORT_SCHEDULE="* * * * * *"), tmp_path / "burst.log"
    )
    try:
        assert worker.wait(30) == 0, worker.output()
    finally:
        worker.stop()
    assert "periodic jobs" not in worker.output()


@pytest.mark.slow
def test_the_scheduler_waits_out_a_redis_restart_and_goes_on(settings_with, tmp_path):
    own_redis = RedisServer(free_port(), persistent=True).start()
    settings = settings_with(redis_url=own_redis.url)
    store = connect_redis(own_redis.url)
    queue = get_queue(store, settings)
    worker = start_worker(settings, tmp_path, "worker", "* * * * * *")
    try:
        [scheduler] = wait_for(lambda: running_schedulers(store), timeout=30, what="the scheduler")
        wait_for(lambda: queue_reports(queue), timeout=30, what="a queue report")
        own_redis.stop(keep_data=True)
        wait_for(lambda: "periodic jobs wait for redis" in worker.output(), timeout=30, what="the scheduler to notice")
        back_at = datetime.now().astimezone()
        own_redis.start()
        wait_for(
            lambda: any(tick_of(job) > back_at for job in queue_reports(queue)), timeout=30, interval=0.2, what="a tick after the restart"
        )
        # The same process, still running: nothing had to restart it.
        assert [running.pid for running in running_schedulers(store)] == [scheduler.pid]
        assert scheduler.pid in descendant_pids(worker.pid)
    finally:
        assert worker.stop() == 0, worker.output()
        own_redis.stop()
    # RQ's own retry scheduler dies with a traceback, and is replaced
    # (https://github.com/rq/rq/issues/2189, tests/test_redis_restarts.py);
    # the periodic jobs' scheduler does not.
    output = worker.output()
    assert "rq/cron.py" not in output and "worker/cron.py" not in output and "Process periodic jobs" not in output
