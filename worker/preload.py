"""Load, once in the pool's parent, what each worker process would otherwise
load on its first job, so the forked workers share those pages (copy-on-write)
instead of each holding its own copy: what gunicorn's ``preload_app`` does for
the web. The mail backend is already loaded before this (main() builds the
mailer to check its settings). ``python -m bench.run --only peers-worker``
measures the pool's memory.
"""

from __future__ import annotations

import gc
from datetime import datetime

from jobs.email_content import fibonacci_email
from jobs.tasks import worker_settings


def load_before_fork() -> None:
    # RQ parses job timestamps with strptime, which imports its parser on first call.
    datetime.strptime("2000-01-01", "%Y-%m-%d")
    # Renders one email: whatever Jinja2 and the email code set up on first use.
    fibonacci_email(worker_settings().mail_from, "preload@example.com", 1)
    # Objects alive now go to the GC's permanent generation: the workers'
    # collections then never write to their headers, which would copy the
    # pages holding them into every worker. Measured with 16 workers on
    # Python 3.13: 29 MB instead of 39 MB unique memory per worker after 600
    # emails (docs/benchmarks.md, "Worker memory").
    gc.freeze()
