"""One log line per event, on stdout, in logfmt (Heroku's convention).

    at=info logger=jobs.tasks msg="email sent" to=j***@example.com length=10

Heroku's log router collects stdout from every dyno
(https://devcenter.heroku.com/articles/logging#writing-to-your-log).
"""

from __future__ import annotations

import logging
import sys

from jobs.privacy import mask_emails_in


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
        parts = [f"at={record.levelname.lower()}", f"logger={record.name}", f"msg={_quote(mask_emails_in(record.getMessage()))}"]
        if record.exc_info:
            parts.append(f"error={_quote(mask_emails_in(self.formatException(record.exc_info)))}")
        return " ".join(parts)


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stdout as logfmt; safe to call twice."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
