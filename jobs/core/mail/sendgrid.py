"""SendGrid backend: the official ``sendgrid`` library builds the v3
mail/send request (body and headers); one opener per process sends it.

Why not ``client.mail.send.post()``: python-http-client builds a new urllib
opener for every request (``build_opener()`` in its ``Client``), and since
Python 3.12 each one creates a TLS context that loads the whole CA bundle,
which OpenSSL 3 does slowly (https://github.com/python/cpython/issues/95031):
about 24 ms of CPU per email, most of a worker's CPU at 100 emails/s, and
memory that grows with every send. ``make upstream-check`` tells when the
library stops doing that (tests/test_mail_sendgrid.py).
"""

import json
import ssl
import urllib.request
from urllib.error import HTTPError, URLError

from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, Email, Mail, To

from jobs.core.mail import (
    MailError,
    MailServiceMisconfigured,
    MailServiceUnreachable,
    OutgoingEmail,
    PermanentMailError,
    RecipientRefused,
    TransientMailError,
)


class SendGridMailer:
    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", timeout: float = 10) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # The library waits forever unless told otherwise.
        self.timeout = timeout
        if not host.startswith(("https://", "http://")):  # http only for a local stand-in
            raise ValueError(f"SendGrid host must be an http(s) URL, not {host!r}")
        self.url = f"{host}/v3/mail/send"
        # Built once, before the worker forks, so every process shares it.
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()))

    def send(self, email: OutgoingEmail) -> None:
        mail = Mail(from_email=Email(email.sender), to_emails=To(email.recipient), subject=email.subject)
        mail.add_content(Content("text/plain", email.text))
        mail.add_content(Content("text/html", email.html))
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            self.url,
            data=json.dumps(mail.get()).encode(),
            # The library's own headers: the API key, its User-Agent, JSON.
            headers={**self.client.client.request_headers, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                response.read()
        except HTTPError as error:
            raise _classify(error.code, error.read()) from error
        except (URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", None) or error
            raise MailServiceUnreachable(f"could not reach SendGrid: {reason}") from error


def _explained(body: bytes | str | None) -> tuple[str, set[str]]:
    """SendGrid explains errors as {"errors": [{"message", "field", "help"}]}: their text, and the fields they name."""
    try:
        errors = json.loads(body or b"")["errors"]
        text = "; ".join(f"{error['field']}: {error['message']}" if error.get("field") else str(error["message"]) for error in errors)
        return text, {error.get("field") or "" for error in errors}
    except (ValueError, KeyError, TypeError, AttributeError):
        return (body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")).strip()[:200], set()


def _classify(status: int, body: bytes | str | None) -> MailError:
    reason, fields = _explained(body)
    message = f"SendGrid answered {status}" + (f": {reason}" if reason else "")
    # 429 (rate limited) and 5xx may pass; 400/401/403/413 will not.
    if status == 429 or status >= 500:
        return TransientMailError(message)
    # The API key (401; 403: no Mail Send access, or MAIL_FROM not a verified sender) and the sender are ours to fix.
    if status in (401, 403) or any(field.startswith(("from", "reply_to")) for field in fields):
        return MailServiceMisconfigured(message)
    if fields and all(field.startswith("personalizations") and ".to" in field for field in fields):
        return RecipientRefused(message)
    return PermanentMailError(message)
