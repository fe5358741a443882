"""The at-most-once guard (jobs/core/at_most_once.py), with real workers and
a real Redis: the claim outlasts the job's timeout, only its owner releases
it, a rerun of a done job skips its side effect, a failed side effect can be
retried at once, and of two runs at the same moment one proceeds."""

from __future__ import annotations

import pytest
from rq.job import Job

from jobs.core.at_most_once import AnotherRunIsRunning, claim_key, is_done, mark_done, owner, release, release_dead_run
from jobs.core.enqueue_policy import enqueue
from tests.support import guarded_jobs
from tests.support.processes import environment_for, kill_tree, python_process, wait_for
from tests.test_worker import fetch, run_worker_burst

COUNTER = "test:side-effects"
GATE = "test:gate"


def test_the_claim_lasts_longer_than_the_job_timeout(settings_with, redis_conn, queue, tmp_path):
    for timeout in (120, 300):
        settings = settings_with(job_timeout=timeout)
        job = enqueue(queue, settings, guarded_jobs.report_claim_ttl, COUNTER)
        run_worker_burst(settings, tmp_path)
        claim_ttl = fetch(job.id, redis_conn).return_value()["claim_ttl"]
        # RQ kills a work-horse 60 s after its timeout: the claim lasts that long.
        assert timeout + 55 <= claim_ttl <= timeout + 60


def test_only_the_owner_releases_the_claim(redis_conn):
    redis_conn.set(claim_key("job-1"), owner("worker-a", 101))
    assert not release(redis_conn, "job-1", "worker-b", 101)
    assert not release(redis_conn, "job-1", "worker-a", 102)
    assert not release(redis_conn, "job-1", "worker", None)  # not a prefix match
    assert redis_conn.exists(claim_key("job-1"))
    assert release(redis_conn, "job-1", "worker-a", 101)
    assert not redis_conn.exists(claim_key("job-1"))

    # A worker that died with its work-horse: any pid of that worker. Names may hold slashes.
    redis_conn.set(claim_key("job-2"), owner("host/worker", 202))
    assert not release(redis_conn, "job-2", "host", None)
    assert release(redis_conn, "job-2", "host/worker", None)
    assert not release(redis_conn, "job-3", "host/worker", None)  # no claim: nothing to do


def test_releasing_for_a_dead_run_leaves_another_run_s_claim(redis_conn, settings, queue):
    job = enqueue(queue, settings, guarded_jobs.count, COUNTER)
    redis_conn.set(claim_key(job.id), owner("live-worker", 7))
    release_dead_run(job, "dead-worker", 7)
    release_dead_run(job, "dead-worker")
    release_dead_run(job, None)
    assert redis_conn.get(claim_key(job.id)) == owner("live-worker", 7).encode()


def test_a_rerun_of_a_done_job_skips_the_side_effect(settings, redis_conn, queue, tmp_path):
    job = enqueue(queue, settings, guarded_jobs.count, COUNTER)
    run_worker_burst(settings, tmp_path)
    assert fetch(job.id, redis_conn).return_value() == {"count": 1}
    assert is_done(redis_conn, job.id)

    queue.enqueue_job(fetch(job.id, redis_conn))  # its id pushed again, as a redelivery would
    run_worker_burst(settings, tmp_path)
    rerun = fetch(job.id, redis_conn)
    assert rerun.get_status() == "finished"
    assert rerun.return_value() == {"already_done": True}
    assert int(redis_conn.get(COUNTER)) == 1


def test_the_done_marker_lives_and_dies_with_its_job(settings, redis_conn, queue, tmp_path):
    job = enqueue(queue, settings, guarded_jobs.count, COUNTER)
    run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    # RQ writes its own fields of the job's hash, never the hash whole.
    stored.meta["note"] = "saved again"
    stored.save()
    stored.save_meta()
    stored.set_status("finished")
    assert is_done(redis_conn, job.id)

    stored.delete()
    assert not is_done(redis_conn, job.id)
    # A run recording its side effect after its job was deleted leaves no hash behind.
    assert not mark_done(redis_conn, job.id, "too late")
    assert not redis_conn.exists(job.key)


def test_a_failed_side_effect_releases_the_claim_and_is_retried(settings_with, redis_conn, queue, tmp_path):
    settings = settings_with(retry_intervals=(0,))
    job = enqueue(queue, settings, guarded_jobs.count_then_fail, COUNTER)
    output = run_worker_burst(settings, tmp_path)
    stored = fetch(job.id, redis_conn)
    assert stored.get_status() == "failed"
    # The retry ran the side effect again: the failed run had let go of its claim.
    assert int(redis_conn.get(COUNTER)) == 2
    assert stored.meta["attempts"] == 2
    assert stored.meta["error"] == "an unexpected error occurred (RuntimeError)"
    assert AnotherRunIsRunning.__name__ not in output
    assert not redis_conn.exists(claim_key(job.id)) and not is_done(redis_conn, job.id)


@pytest.mark.slow
def test_of_two_runs_at_the_same_moment_one_proceeds(settings_with, redis_conn, queue, tmp_path):
    settings = settings_with(retry_intervals=(2, 2, 2))
    env = environment_for(settings)
    job = enqueue(queue, settings, guarded_jobs.count_then_wait, COUNTER, GATE)
    first = python_process(["-m", "worker"], env, tmp_path / "first.log")
    second = None
    try:
        wait_for(lambda: redis_conn.get(COUNTER) == b"1", timeout=30, what="the first run's side effect")
        queue.enqueue_job(fetch(job.id, redis_conn))  # the same job id, pushed again
        second = python_process(["-m", "worker"], env, tmp_path / "second.log")
        wait_for(
            lambda: fetch(job.id, redis_conn).meta.get("error") == "another attempt of this job is still running; it will be checked again",
            timeout=30,
            what="the second run to give way",
        )
        assert redis_conn.get(COUNTER) == b"1"
        redis_conn.set(GATE, "open")
        # The second run's retry finds the first one done.
        wait_for(lambda: fetch(job.id, redis_conn).return_value() == {"already_done": True}, timeout=60, what="the retry to find it done")
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
    assert fetch(job.id, redis_conn).get_status() == "finished"
    assert redis_conn.get(COUNTER) == b"1"


@pytest.mark.slow
def test_the_worker_releases_the_claim_of_a_job_abandoned_by_a_dead_worker(settings_with, redis_conn, queue, tmp_path):
    settings = settings_with(retry_intervals=(0,))
    env = environment_for(settings, WORKER_JOB_MONITORING_INTERVAL="1", WORKER_MAINTENANCE_INTERVAL="2")
    job = enqueue(queue, settings, guarded_jobs.count_then_wait, COUNTER, GATE)
    doomed = python_process(["-m", "worker"], env, tmp_path / "doomed.log")
    try:
        wait_for(lambda: redis_conn.get(COUNTER) == b"1", timeout=30, what="the side effect to start")
        kill_tree(doomed.pid)  # worker, work-horse and scheduler, as an out-of-memory dyno
        doomed.wait(10)
    finally:
        doomed.stop()
    held = redis_conn.get(claim_key(job.id))
    assert held is not None and held.decode().startswith(Job.fetch(job.id, connection=redis_conn).worker_name)
    # Fast-forward past the dead worker's heartbeat (RQ adds a fixed 60 s), so
    # the next worker's first maintenance finds the job abandoned.
    registry = queue.started_job_registry
    redis_conn.zadd(registry.key, dict.fromkeys(redis_conn.zrange(registry.key, 0, -1), 1))

    redis_conn.set(GATE, "open")
    replacement = python_process(["-m", "worker"], env, tmp_path / "replacement.log")
    try:
        wait_for(lambda: fetch(job.id, redis_conn).get_status() == "finished", timeout=60, interval=0.2, what="the retry to finish")
    finally:
        replacement.stop()
    # The retry took the claim at once: the dead run's had been released, not left to lapse.
    assert fetch(job.id, redis_conn).return_value() == {"count": 2}
    assert "released the claim of a run that died" in replacement.output()
