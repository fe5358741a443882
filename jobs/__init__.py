"""FibTastic's shared job package, imported by both ``web`` and ``worker``.

Your jobs live here, at the top level:

- ``jobs.tasks``: the example job, and how the web enqueues it (add yours
  beside it: README "Add your own job").
- ``jobs.fibonacci``: the sequence; ``jobs.email_content``: the email.

``jobs.core`` holds the plumbing they share (settings, Redis, logging, Sentry,
mail). This package must not import ``web`` or ``worker``.
"""
