"""SendGrid backend, through the official ``sendgrid`` library (v3 mail/send)."""

import json
from urllib.error import HTTPError, URLError

from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, Email, Mail, To

from jobs.core.mail import OutgoingEmail, PermanentMailError, TransientMailError


class SendGridMailer:
    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", timeout: float = 10) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # The library waits forever unless told otherwise.
        self.timeout = timeout

    def send(self, email: OutgoingEmail) -> None:
        mail = Mail(from_email=Email(email.sender), to_emails=To(email.recipient), subject=email.subject)
        mail.add_content(Content("text/plain", email.text))
        mail.add_content(Content("text/html", email.html))
        try:
            self.client.client.mail.send.post(request_body=mail.get(), timeout=self.timeout)
        except SendGridHTTPError as error:
            raise _classify(error.status_code, _reason(error.body)) from error
        except HTTPError as error:  # urllib's, should the library let one through
            raise _classify(error.code, error.reason) from error
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
