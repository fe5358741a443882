"""SMTP backend: development's mail sink, or any SMTP provider via SMTP_URL.

``smtp://[user:password@]host[:port]`` talks plain SMTP and upgrades with
STARTTLS when the server offers it; ``smtps://`` uses TLS from the start (port
465). Credentials in the URL are percent-decoded.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from urllib.parse import unquote, urlsplit

from jobs.mail import OutgoingEmail, PermanentMailError, TransientMailError
from jobs.mail.compose import to_mime


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 10) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://host:port or smtps://host:port, not {url!r}")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        except BaseException:
            client.close()
            raise
        return client

    def _send(self, email: OutgoingEmail) -> None:
        message = to_mime(email)
        client = self._connect()
        try:
            if self.username:
                client.login(self.username, self.password or "")
            # SMTPUTF8 only when the address needs it: not every server offers it.
            options = ["SMTPUTF8"] if not (email.sender + email.recipient).isascii() else []
            client.send_message(message, mail_options=options)
        except BaseException:
            # No polite QUIT after a failure or an interruption (a deploy's
            # SIGTERM arrives here as RQ's ShutDownImminentException): the
            # server may still owe the reply to an earlier command, which QUIT
            # would read as its own and turn into a wrong error. Hang up.
            client.close()
            raise
        # The server has accepted the message. A failed goodbye must not turn
        # that into an error, or the job would retry and send it again.
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def send(self, email: OutgoingEmail) -> None:
        try:
            self._send(email)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _classify(code, f"the mail server refused the recipient: {_text(reply)}") from error
        except smtplib.SMTPResponseException as error:
            raise _classify(error.smtp_code, f"the mail server answered {error.smtp_code} {_text(error.smtp_error)}") from error
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentMailError(f"the mail server cannot take this message: {error}") from error
        except (OSError, smtplib.SMTPException) as error:
            # Connection refused, DNS failure, timeout, dropped connection.
            reason = "timed out" if isinstance(error, socket.timeout) else str(error) or type(error).__name__
            raise TransientMailError(f"could not reach the mail server at {self.host}:{self.port}: {reason}") from error


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _classify(code: int, reason: str) -> TransientMailError | PermanentMailError:
    # RFC 5321: 5xx are permanent failures, 4xx transient. Any other code in
    # an error means the conversation went wrong, which may pass too.
    return PermanentMailError(reason) if 500 <= code < 600 else TransientMailError(reason)
