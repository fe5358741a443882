"""One logfmt line per event on stdout (https://devcenter.heroku.com/articles/logging#writing-to-your-log),
with ``request_id``/``job_id`` from :mod:`jobs.core.log_context` and every address masked, whoever logged it."""

import logging
import sys

from jobs.core.connection import REDIS_DOWN
from jobs.core.log_context import current_fields
from jobs.core.privacy import mask_emails_in


def _quote(value: str) -> str:
    if value and not any(character in value for character in ' "=\n\t'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """Masks every address in the message and the traceback: libraries (RQ
    logging a failed job, a mail server's reply in an exception) do not know
    to, and logs are kept and shared longer than anyone expects."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"at={record.levelname.lower()}", f"logger={record.name}", f"msg={_quote(record.getMessage())}"]
        parts.extend(f"{name}={_quote(value)}" for name, value in current_fields().items())
        if record.exc_info:
            parts.append(f"error={_quote(self.formatException(record.exc_info))}")
        return mask_emails_in(" ".join(parts))

    def formatException(self, exc_info) -> str:
        # Redis unreachable: its traceback (e.g. flask-limiter's swallowed errors) is noise on every request.
        if isinstance(exc_info[1], REDIS_DOWN):
            return f"{type(exc_info[1]).__name__}: {exc_info[1]}"
        return super().formatException(exc_info)


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stdout as logfmt; safe to call twice."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)


class MaskedMessageFormatter(logging.Formatter):
    """Prints a record's message as it is (gunicorn's access lines, already
    logfmt), with addresses masked like every other line."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_emails_in(record.getMessage())
