"""Settings for RQ's own command line tool, so ``rq`` talks to FibTastic's Redis.

    rq info --config jobs.rq_config --serializer json
    heroku run rq info --config jobs.rq_config --serializer json

RQ imports this module (from the current directory) and connects to its
``REDIS_URL``: the app's own, with certificate verification off for Heroku
Redis's self-signed ``rediss://`` (see jobs/connection.py). Jobs are stored as
JSON, so commands that read jobs (``requeue``, ``empty``) need
``--serializer json`` too; the README's "Operating it" section lists them.
"""

from jobs.connection import url_without_certificate_check
from jobs.settings import load_settings

REDIS_URL = url_without_certificate_check(load_settings().redis_url)
