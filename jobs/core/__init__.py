"""The plumbing every job shares; you should rarely need to change it.

- ``settings``: every environment variable, read in one place.
- ``connection``: the Redis connection and the RQ queue.
- ``logging_setup``, ``log_context``: one logfmt line per event, with the request id.
- ``error_reporting``: Sentry, initialised once per process, scrubbed.
- ``privacy``: masking email addresses wherever they could leak.
- ``mail``: one mailer interface with SendGrid and SMTP backends.
- ``failed_jobs``: list and clear failed jobs from the command line.
- ``enqueue_policy``: ``enqueue``, with the retries, TTLs and failure reasons every job gets.
- ``at_most_once``: the guard for jobs whose side effect must not happen twice.
- ``presentation``: how a job is shown on its status page and in the API.
- ``worker_resources``: the settings and mailer inside the worker.

Must not import ``web`` or ``worker``, nor the jobs beside it.
"""
