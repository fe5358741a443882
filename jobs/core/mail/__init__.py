"""One mailer interface, two backends, chosen by the environment.

``SENDGRID_API_KEY`` set: SendGrid's v3 API (production on Heroku).
Otherwise: SMTP to ``SMTP_URL`` (in development, the local mail sink).

Backends raise :class:`TransientMailError` when trying again later may work
(connection refused, timeouts, SMTP 4xx, SendGrid 429/5xx) and
:class:`PermanentMailError` when it cannot (SMTP 5xx, SendGrid 400/401/403/413):
the job's failure handler retries the first kind and gives up on the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jobs.core.settings import Settings


@dataclass(frozen=True)
class OutgoingEmail:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str


class MailError(Exception):
    """Sending failed; ``str(error)`` is a reason fit to show the user."""

    permanent = False


class TransientMailError(MailError):
    """The provider may accept the message if we try again later."""


class PermanentMailError(MailError):
    """The provider refused the message; trying again would not help."""

    permanent = True


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> None:
        """Hand ``email`` to the provider, or raise a MailError."""


def mailer_from_settings(settings: Settings) -> Mailer:
    # Imported here so a process only loads the backend it uses.
    if settings.sendgrid_api_key:
        from jobs.core.mail.sendgrid import SendGridMailer

        return SendGridMailer(settings.sendgrid_api_key, host=settings.sendgrid_api_host, timeout=settings.mail_timeout)
    from jobs.core.mail.smtp import SmtpMailer

    return SmtpMailer(settings.smtp_url, timeout=settings.mail_timeout)
