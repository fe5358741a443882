"""FibTastic's jobs, imported by both ``web`` and ``worker`` (never importing them): ``jobs.tasks`` is the
example job (add yours beside it: README "Add your own job"); ``jobs.core`` the plumbing they share."""
