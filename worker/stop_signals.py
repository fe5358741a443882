"""Stop signals in every process of the worker dyno, from the moment it is forked until RQ's handlers take over.

Heroku sends SIGTERM to every process of a dyno at once (https://devcenter.heroku.com/articles/dyno-shutdown-behavior),
and RQ's WorkerPool stops its workers with SIGINT. RQ installs its handlers only once a process runs:
``Worker.work()`` after registering the worker and forking RQ's scheduler, the scheduler and a work-horse in
their own code. A stop arriving before then must neither be lost nor run a handler meant for another
process. Seen under load: a pool worker still starting raised KeyboardInterrupt in redis-py's connect(); RQ's
scheduler child ran its worker's handler and lost the stop (tests/test_worker_stop_signals.py sends a signal
into each of these windows on purpose).

Two rules close every window:

- The processes that run the pool or a worker (the main process from its start, each pool worker from its
  fork) **latch** stop signals: the handler records them and does nothing else. Our code checks the latch
  while it waits for Redis, and as soon as RQ's own handlers are in place a latched stop is handed to them
  (:class:`StopSignalsMixin`; the pool: worker/pool.py), so it is acted on as if it came then.
- Every other child (RQ's scheduler, a work-horse, the periodic jobs' scheduler) **stops at once** until it
  installs its own handlers: SIGTERM has its default action (nothing has run there yet; a work-horse ended so
  is retried like a killed one) and SIGINT is ignored (its parent always stops it with SIGTERM too).

Which rule a child follows is set in it at fork (``os.register_at_fork``), with stop signals blocked across
the fork: one sent between the fork and the child's rule stays pending until the rule is in place, rather
than running the parent's handler or being dropped by Python's at-fork signal reset.
"""

import os
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# This process's stop signals received while latched, first first. A child starts with none.
_latched: list[int] = []
# Whether processes forked from this one latch (pool workers) or stop at once (everything else).
_children_latch = False


def _record(signum: int, _frame) -> None:
    _latched.append(signum)


def latch_stop_signals() -> None:
    """Record SIGTERM and SIGINT in this process instead of acting on them; also after RQ's handlers were in place."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _record)


def stop_latched() -> bool:
    return bool(_latched)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def take_latched_stop() -> int | None:
    """The first stop signal latched, if any, and forget them all: it is being acted on."""
    signum = _latched[0] if _latched else None
    _latched.clear()
    return signum


def children_latch(latch: bool) -> None:
    """Set the rule for processes forked from this one from now on: latch (pool workers) or stop at once."""
    global _children_latch
    _children_latch = latch


def _block() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _unblock() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _set_up_child() -> None:
    _latched.clear()  # the parent's stop is the parent's to act on
    if _children_latch:
        latch_stop_signals()
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    children_latch(False)  # until this child says otherwise, its own children stop at once
    _unblock()


def install_in_main_process() -> None:
    """Call first thing in the worker's main process, before it forks anything (once: children inherit it)."""
    latch_stop_signals()
    os.register_at_fork(before=_block, after_in_parent=_unblock, after_in_child=_set_up_child)
    # RQ's HerokuWorker tells its work-horse to stop with killpg(horse's group, SIGRTMIN). A horse forked a
    # moment before has not yet left the worker's group (RQ calls os.setpgrp in the child), so the signal
    # also reached the worker and its other children, and SIGRTMIN's default action ended them (status -34).
    # Only a work-horse acts on SIGRTMIN, and it installs its handler first thing; a pool worker installs its
    # own before it works (worker/pool.py).
    signal.signal(signal.SIGRTMIN, signal.SIG_IGN)


class StopSignalsMixin:
    """For RQ workers: a stop latched before ``work()`` installed RQ's handlers is handed to them, and
    ``stop_signal_received`` tells a requested stop from RQ's loop ending because Redis went away.

    ``work()`` calls ``check_for_suspension`` first thing in its loop, right after installing them,
    inside the ``try`` that ends the loop on StopRequested and tears the worker down."""

    stop_signal_received = False

    def request_stop(self, signum, frame) -> None:
        self.stop_signal_received = True
        super().request_stop(signum, frame)

    def check_for_suspension(self, burst: bool) -> None:
        signum = take_latched_stop()
        if signum is not None:
            self.request_stop(signum, None)
        super().check_for_suspension(burst)
