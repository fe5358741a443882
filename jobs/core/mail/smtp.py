"""SMTP backend: ``smtp://[user:password@]host[:port]`` (STARTTLS when offered) or ``smtps://`` (TLS from the start).
With credentials STARTTLS is required except on a loopback host: anyone in the path can strip it from EHLO."""

import ipaddress
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from jobs.core.mail import (
    MailError,
    MailServiceMisconfigured,
    MailServiceUnreachable,
    OutgoingEmail,
    PermanentMailError,
    RecipientRefused,
    TransientMailError,
)


def to_mime(email: OutgoingEmail) -> EmailMessage:
    """The email as a MIME message with a plain-text and an HTML part."""
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain="fibtastic")
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 10, tls_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://host:port or smtps://host:port, not {url!r}")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.tls_context = tls_context
        self.requires_starttls = self.username is not None and not self.implicit_tls and not is_loopback(self.host)
        self._client: smtplib.SMTP | None = None
        self._client_pid = 0

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls_context())
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=self._tls_context())
                client.ehlo()
            elif self.requires_starttls:
                raise MailServiceMisconfigured(
                    f"the mail server at {self.host}:{self.port} does not offer STARTTLS, so the SMTP_URL credentials "
                    "were not sent: use smtps:// or a server that offers STARTTLS (only a loopback host may go without)"
                )
        except BaseException:
            client.close()
            raise
        return client

    def _tls_context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def _connection(self) -> smtplib.SMTP:
        """This process's open connection (saving connect, EHLO, STARTTLS and AUTH per email), or a new one.
        Per pid: two processes writing to one socket after a fork would garble both conversations."""
        if self._client is not None and self._client_pid == os.getpid():
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (OSError, smtplib.SMTPException):
                pass  # the server closed it while idle (RFC 5321 allows 5 minutes)
        self._discard()
        client = self._connect()
        if self.username:
            client.login(self.username, self.password or "")
        self._client, self._client_pid = client, os.getpid()
        return client

    def _discard(self) -> None:
        """Drop the connection without QUIT: its state is unknown, and QUIT would wait for a reply still due."""
        if self._client is not None and self._client_pid == os.getpid():
            self._client.close()
        self._client = None

    def send(self, email: OutgoingEmail) -> None:
        message = to_mime(email)
        try:
            client = self._connection()
            # SMTPUTF8 only when the address needs it: not every server offers it.
            options = ["SMTPUTF8"] if not (email.sender + email.recipient).isascii() else []
            client.send_message(message, mail_options=options)
        except BaseException as error:
            # After any error, or an interruption (RQ's job timeout or shutdown), the socket may still
            # owe us a reply; after a refused recipient RSET is no cheaper than a fresh start.
            self._discard()
            mail_error = self._mail_error(error)
            if mail_error is None:
                raise
            raise mail_error from error

    def _mail_error(self, error: BaseException) -> MailError | None:
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            code, reply = next(iter(error.recipients.values()))
            return _classify(code, f"the mail server refused the recipient: {_text(reply)}", RecipientRefused)
        if isinstance(error, smtplib.SMTPResponseException):
            # A refused sender (MAIL_FROM) or login (SMTP_URL) is ours to fix; any other refusal is of this email.
            ours = isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError)
            reason = f"the mail server answered {error.smtp_code} {_text(error.smtp_error)}"
            return _classify(error.smtp_code, reason, MailServiceMisconfigured if ours else PermanentMailError)
        if isinstance(error, smtplib.SMTPNotSupportedError):  # no AUTH, or no SMTPUTF8 for an address that needs it
            return MailServiceMisconfigured(f"the mail server cannot take this message: {error}")
        if isinstance(error, OSError | smtplib.SMTPException):  # refused, DNS, timeout, dropped connection
            reason = "timed out" if isinstance(error, socket.timeout) else str(error) or type(error).__name__
            return MailServiceUnreachable(f"could not reach the mail server at {self.host}:{self.port}: {reason}")
        return None

    def close(self) -> None:
        """End this process's SMTP conversation politely, if one is open."""
        if self._client is not None and self._client_pid == os.getpid():
            try:
                self._client.quit()
            except (OSError, smtplib.SMTPException):
                self._client.close()
        self._client = None


def is_loopback(host: str) -> bool:
    """Only "localhost" and loopback addresses: without DNS, which may resolve differently tomorrow."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _classify(code: int, reason: str, permanent: type[PermanentMailError] = PermanentMailError) -> MailError:
    # RFC 5321: 5xx are permanent, 4xx transient; any other code in an error may pass too.
    return permanent(reason) if 500 <= code < 600 else TransientMailError(reason)
