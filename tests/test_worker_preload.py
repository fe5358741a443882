"""The pool's parent loads what a job needs before forking its workers
(worker/preload.py), so the workers share those pages instead of each
loading its own copy on its first job."""

from __future__ import annotations

import re

import pytest

from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import environment_for, python_process


@pytest.mark.slow
def test_what_jobs_use_is_imported_once_before_the_workers_fork(settings_with, sendgrid_stub, queue, tmp_path):
    settings = settings_with(sendgrid_api_key=sendgrid_stub.api_key, sendgrid_api_host=sendgrid_stub.host)
    for number in range(6):
        enqueue_fibonacci_email(queue, settings, f"reader{number}@example.com", 10)
    # Python's -X importtime, inherited by the forked workers: one line on
    # stderr each time a process imports a module for itself.
    environment = environment_for(settings, WORKER_CONCURRENCY="2", PYTHONPROFILEIMPORTTIME="1")
    process = python_process(["-m", "worker", "--burst"], environment, tmp_path / "worker.log")
    try:
        assert process.wait(60) == 0, process.output()
    finally:
        process.stop()
    assert len(sendgrid_stub.accepted) == 6
    # Each imported by the parent only. The mail backend: main() builds the
    # mailer. strptime's parser: worker/preload.py (RQ parses timestamps with
    # it; without the preload each worker imports it on its first job).
    for module in ("sendgrid.sendgrid", "_strptime"):
        imports = re.findall(rf"^import time:.*\|\s+{re.escape(module)}$", process.output(), re.MULTILINE)
        assert len(imports) == 1, f"{module} imported {len(imports)} times"


def test_objects_loaded_before_the_fork_are_frozen_out_of_the_collector():
    import gc

    from worker.preload import load_before_fork

    try:
        load_before_fork()
        # In the permanent generation: the workers' collections leave them alone.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
