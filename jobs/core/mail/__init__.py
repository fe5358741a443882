"""One mailer interface: SendGrid when ``SENDGRID_API_KEY`` is set, else SMTP to ``SMTP_URL``. Backends raise
:class:`TransientMailError` when trying again may work (retried), :class:`PermanentMailError` when it cannot."""

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
    pass


class PermanentMailError(MailError):
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
