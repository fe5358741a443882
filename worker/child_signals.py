"""Stop signals in the processes a worker forks, until they install their own handlers.

A forked child starts with its parent's signal handlers. RQ's scheduler child (``with_scheduler``)
installs its own only once it runs, so a SIGTERM in between ran the *worker's* ``request_stop`` in
the scheduler: StopRequested was raised into fork-time code (Python printed "Exception ignored ...
Traceback"), the stop was lost, the scheduler kept running, and the worker's teardown
(``stop_scheduler``, which joins it) waited for Heroku's SIGKILL. Seen when a dyno is stopped just as
a pool worker starts its scheduler (tests/test_worker_child_signals.py reproduces it deterministically).

Registered in each worker process before it works: in its children SIGTERM gets the default action
(end at once: nothing has run there yet; a work-horse ended so is retried like a killed one) and
SIGINT is ignored, as RQ does in a work-horse; the child's own handlers replace both when it installs
them. No RQ issue found for it; a test shows the bug without this, and fails once RQ's scheduler child
no longer starts with the worker's handlers (started another way than fork, or reset at fork).
"""

import os
import signal


def _default_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def reset_stop_signals_in_children() -> None:
    """Call once per worker process, before ``work()``."""
    os.register_at_fork(after_in_child=_default_stop_signals)


def ignore_the_work_horse_signal() -> None:
    """Call first thing in the worker's main process, before it forks anything.

    RQ's HerokuWorker tells its work-horse to stop with ``killpg(horse's group, SIGRTMIN)``. A horse
    forked a moment before has not yet left the worker's process group (RQ calls ``os.setpgrp`` in the
    child), so the signal also reached the worker and its other children and, SIGRTMIN's default action
    being to end the process, the worker died with status -34 on a SIGTERM (seen under load in
    tests/test_periodic_jobs.py). Only a work-horse acts on SIGRTMIN, and it installs its handler first
    thing; the pool's workers install theirs before they work (worker/pool.py)."""
    signal.signal(signal.SIGRTMIN, signal.SIG_IGN)
