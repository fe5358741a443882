"""Settings for RQ's own ``rq`` command, so it works on FibTastic's Redis and jobs.

The short way is the wrapper, which applies all of this::

    python -m jobs.rq_cli info
    heroku run python -m jobs.rq_cli requeue --queue default --all

RQ's ``rq`` itself, with the same effect::

    rq info --config jobs.rq_config --queue-class jobs.rq_config.JSONQueue --serializer json

``--config``: RQ imports this module (from the current directory) and connects
to its ``REDIS_URL``, the app's own, with certificate verification off for
Heroku Redis's self-signed ``rediss://`` (see jobs/core/connection.py).
``--serializer json``: jobs are stored as JSON, not pickle. ``--queue-class``:
``rq info`` builds its queues without the ``--serializer`` it was given, then
cleans their registries; a job it finds abandoned would be read and re-saved
with pickle, scrambling its ``meta``. JSONQueue defaults to JSON.
"""

from rq import Queue

from jobs.core.connection import SERIALIZER, url_without_certificate_check
from jobs.core.settings import load_settings

REDIS_URL = url_without_certificate_check(load_settings().redis_url)


class JSONQueue(Queue):
    def __init__(self, *args, serializer=None, **kwargs):
        super().__init__(*args, serializer=serializer or SERIALIZER, **kwargs)
