"""The worker dyno's scheduler processes: children of ``python -m worker``, forked before it starts working, each
running one of RQ's scheduler loops (retries: worker/retries.py; periodic jobs: worker/cron.py). Each loop is
started again after a Redis outage (down, refusing connections, full), so a scheduler waits like the worker does
instead of dying, and each process stops with the worker."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing import get_context

from redis import RedisError
from rq.exceptions import StopRequested

from jobs.core.connection import is_outage, redis_problem

log = logging.getLogger(__name__)

REDIS_RETRY_PAUSE = 5
STOP_TIMEOUT = 10  # for a scheduler to stop on the worker's way out


def pause(seconds: float, stopped: Callable[[], bool]) -> bool:
    """Sleep ``seconds`` in short steps (a stop should not wait for the end); True if stopped meanwhile."""
    resume_at = time.monotonic() + seconds
    while not stopped() and time.monotonic() < resume_at:
        time.sleep(min(0.1, seconds))
    return stopped()


def keep_running(loop: Callable[[], None], what: str, stopped: Callable[[], bool] = lambda: False) -> None:
    """Run ``loop`` (an RQ scheduler's, which returns when asked to stop) again after every Redis outage."""
    with suppress(StopRequested):  # raised by RQ's cron scheduler's handler, during the pause too
        while not stopped():
            try:
                loop()
                return
            except RedisError as error:
                if not is_outage(error):
                    raise
                log.warning("%s wait for redis: next try in %d s (%s)", what, REDIS_RETRY_PAUSE, redis_problem(error))
            pause(REDIS_RETRY_PAUSE, stopped)


@contextmanager
def child_process(name: str, target: Callable, *args) -> Iterator[None]:
    """``target(*args)`` in a forked child for the duration of the ``with`` block."""
    process = get_context("fork").Process(target=target, args=args, name=name)
    process.start()
    try:
        yield
    finally:
        # On Heroku the child has its own SIGTERM and is usually gone by now.
        if process.is_alive():
            process.terminate()
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            log.warning("%s did not stop in %d s; killing it", name, STOP_TIMEOUT)
            process.kill()
            process.join()
