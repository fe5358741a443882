"""FibTastic's shared job package, imported by both ``web`` and ``worker``.

Your jobs live here, at the top level:

- ``jobs.tasks``: the job functions and how to enqueue them (add yours here).
- ``jobs.fibonacci``: the sequence; ``jobs.email_content``: the email.

``jobs.core`` holds the plumbing they share (settings, Redis, logging, Sentry,
mail). This package must not import ``web`` or ``worker``.
"""
