"""Command line entry point: ``python -m devmail``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence

from devmail.server import (
    DEFAULT_HTTP_IP,
    DEFAULT_HTTP_PORT,
    DEFAULT_SMTP_IP,
    DEFAULT_SMTP_PORT,
    DevMail,
)
from devmail.smtp import DEFAULT_MAX_SIZE
from devmail.store import DEFAULT_MAX_MESSAGES

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"devmail: {name} must be an integer, got {value!r}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devmail",
        description="Catch mail over SMTP and show it on a web page.",
    )
    parser.add_argument(
        "--smtp-ip",
        default=os.environ.get("DEVMAIL_SMTP_IP") or DEFAULT_SMTP_IP,
        help="address for SMTP (env DEVMAIL_SMTP_IP, default %(default)s)",
    )
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=_env_int("DEVMAIL_SMTP_PORT", DEFAULT_SMTP_PORT),
        help="SMTP port, 0 picks a free one (env DEVMAIL_SMTP_PORT, default %(default)s)",
    )
    parser.add_argument(
        "--http-ip",
        default=os.environ.get("DEVMAIL_HTTP_IP") or DEFAULT_HTTP_IP,
        help="address for the web page (env DEVMAIL_HTTP_IP, default %(default)s)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=_env_int("DEVMAIL_HTTP_PORT", DEFAULT_HTTP_PORT),
        help="web port, 0 picks a free one (env DEVMAIL_HTTP_PORT, default %(default)s)",
    )
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        help="messages to keep, oldest dropped first (default %(default)s)",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_SIZE,
        help="largest accepted message in bytes (default %(default)s)",
    )
    args = parser.parse_args(argv)
    for name in ("smtp_port", "http_port"):
        if not 0 <= getattr(args, name) <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 65535")
    if args.max_messages < 1:
        parser.error("--max-messages must be at least 1")
    if args.max_size < 1:
        parser.error("--max-size must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Block the stop signals before any thread exists, so every thread inherits
    # the mask and sigwait() below is the one place that receives them.
    use_sigwait = hasattr(signal, "pthread_sigmask")
    if use_sigwait:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    devmail = DevMail(
        smtp_ip=args.smtp_ip,
        smtp_port=args.smtp_port,
        http_ip=args.http_ip,
        http_port=args.http_port,
        max_messages=args.max_messages,
        max_size=args.max_size,
    )
    try:
        devmail.start()
    except OSError as error:
        print(f"devmail: cannot start: {error}", file=sys.stderr)
        return 1
    try:
        print(devmail.describe(), flush=True)
        if use_sigwait:
            signal.sigwait(STOP_SIGNALS)
        else:  # Windows has no sigwait(); turn both signals into KeyboardInterrupt.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        devmail.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
