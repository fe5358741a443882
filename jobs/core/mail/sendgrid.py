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

from jobs.core.mail import OutgoingEmail, PermanentMailError, TransientMailError


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
            raise _classify(error.code, _reason(error.read())) from error
        except (URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", None) or error
            raise TransientMailError(f"could not reach SendGrid: {reason}") from error


def _reason(body: bytes | str | None) -> str:
    """SendGrid explains errors as {"errors": [{"message", "field", "help"}]}."""
    try:
        errors = json.loads(body or b"")["errors"]
        return "; ".join(f"{error['field']}: {error['message']}" if error.get("field") else str(error["message"]) for error in errors)
    except (ValueError, KeyError, TypeError):
        return (body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")).strip()[:200]


def _classify(status: int, reason: str) -> TransientMailError | PermanentMailError:
    message = f"SendGrid answered {status}" + (f": {reason}" if reason else "")
    # 429 (rate limited) and 5xx may pass; 400/401/403/413 will not.
    if status == 429 or status >= 500:
        return TransientMailError(message)
    return PermanentMailError(message)
