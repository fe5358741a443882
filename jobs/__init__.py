"""FibTastic's shared job package, imported by both ``web`` and ``worker``.

- ``jobs.settings``: every environment variable, read in one place.
- ``jobs.connection``: the Redis connection and the RQ queue.
- ``jobs.tasks``: the job functions and how to enqueue them (add yours here).
- ``jobs.fibonacci``: the sequence; ``jobs.email_content``: the email.
- ``jobs.mail``: one mailer interface with SendGrid and SMTP backends.

This package must not import ``web`` or ``worker``.
"""
