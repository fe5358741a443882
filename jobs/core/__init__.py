"""The plumbing every job shares (settings, Redis, logging, Sentry, privacy, mail, enqueue policy,
``@at_most_once``, presentation); you should rarely need to change it. Must not import ``web``,
``worker``, nor the jobs beside it."""
