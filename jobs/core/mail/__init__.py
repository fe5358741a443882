"""One mailer interface: SendGrid when ``SENDGRID_API_KEY`` is set, else SMTP to ``SMTP_URL``. Backends raise
:class:`TransientMailError` when trying again may work (retried), :class:`PermanentMailError` when it cannot,
each as the kind of failure it is: the kind decides what the job's status page says."""

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
    """Sending failed. ``user_message`` is what the status page shows anyone with the job's link;
    ``str(error)`` is the detail (hosts, the provider's reply, often the address) for the logs and
    Sentry only, which mask addresses."""

    permanent = False
    user_message = "the email could not be sent"


class TransientMailError(MailError):
    user_message = "the mail service could not take the email just now"


class MailServiceUnreachable(TransientMailError):
    user_message = "the mail service could not be reached"


class PermanentMailError(MailError):
    permanent = True
    user_message = "the mail service refused the email"


class RecipientRefused(PermanentMailError):
    user_message = "the address was refused"


class MailServiceMisconfigured(PermanentMailError):
    """Our side: credentials, sender, TLS. Sentry hears of it (a permanent failure fails the job)."""

    user_message = "the mail service is not configured correctly; it has been reported"


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
