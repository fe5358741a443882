"""RQ's ``rq`` command with FibTastic's connection and serializer filled in.

    python -m jobs.rq_cli info                            # queues, workers, counts
    python -m jobs.rq_cli requeue --queue default --all   # retry every failed job
    python -m jobs.rq_cli empty default                   # drop every waiting job

Any ``rq`` subcommand and option works; this only sets the defaults that
jobs/rq_config.py explains (``--config``, ``--queue-class``, ``--serializer``),
and an explicit option still wins. On Heroku: ``heroku run python -m jobs.rq_cli info``.
"""

from __future__ import annotations

import sys

from rq.cli import main as rq_main

FIBTASTIC_DEFAULTS = {"config": "jobs.rq_config", "queue_class": "jobs.rq_config.JSONQueue", "serializer": "json"}


def main(argv: list[str] | None = None):
    commands = rq_main.list_commands(None)
    # click applies default_map per subcommand, as if each option had this default.
    return rq_main.main(
        args=sys.argv[1:] if argv is None else argv,
        prog_name="python -m jobs.rq_cli",
        default_map=dict.fromkeys(commands, FIBTASTIC_DEFAULTS),
    )


if __name__ == "__main__":
    main()
