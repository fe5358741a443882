"""SMTP backend: development's mail sink, or any SMTP provider via SMTP_URL.

``smtp://[user:password@]host[:port]`` talks plain SMTP and upgrades with
STARTTLS when the server offers it; ``smtps://`` uses TLS from the start (port
465). Credentials in the URL are percent-decoded.

With credentials, STARTTLS is required: a server (or anyone in the path,
who can strip STARTTLS from the EHLO reply) that does not offer it gets no
login and no message, only a PermanentMailError. The exception is a loopback
host (localhost, 127.0.0.0/8, ::1), where nothing crosses a network.
"""

from __future__ import annotations

import ipaddress
import os
import smtplib
import socket
import ssl
from urllib.parse import unquote, urlsplit

from jobs.core.mail import OutgoingEmail, PermanentMailError, TransientMailError
from jobs.core.mail.compose import to_mime


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 10, tls_context: ssl.SSLContext | None = None) -> None:
        """``tls_context`` checks the server's certificate (STARTTLS and
        smtps://); by default against the system's certificate authorities."""
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
                raise PermanentMailError(
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
        """This process's open connection, checked with NOOP, or a new one.

        One SMTP conversation per process saves the connect, EHLO, STARTTLS
        and AUTH round trips on every email after the first. The pid check
        keeps a connection opened before a fork out of the child: two
        processes writing to one socket would garble both conversations.
        """
        if self._client is not None and self._client_pid == os.getpid():
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (OSError, smtplib.SMTPException):
                pass  # the server closed it while idle (RFC 5321 allows 5 minutes)
            self._discard()
        self._client = None
        client = self._connect()
        if self.username:
            client.login(self.username, self.password or "")
        self._client, self._client_pid = client, os.getpid()
        return client

    def _discard(self) -> None:
        """Drop the connection without QUIT: after an error or an interrupted
        job its state is unknown, and QUIT would wait for a reply still due."""
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
        except smtplib.SMTPRecipientsRefused as error:
            # The server refused this recipient; the conversation itself is
            # fine, but RSET is no cheaper than a fresh start: drop it.
            self._discard()
            code, reply = next(iter(error.recipients.values()))
            raise _classify(code, f"the mail server refused the recipient: {_text(reply)}") from error
        except smtplib.SMTPResponseException as error:
            self._discard()
            raise _classify(error.smtp_code, f"the mail server answered {error.smtp_code} {_text(error.smtp_error)}") from error
        except smtplib.SMTPNotSupportedError as error:
            self._discard()
            raise PermanentMailError(f"the mail server cannot take this message: {error}") from error
        except (OSError, smtplib.SMTPException) as error:
            self._discard()
            # Connection refused, DNS failure, timeout, dropped connection.
            reason = "timed out" if isinstance(error, socket.timeout) else str(error) or type(error).__name__
            raise TransientMailError(f"could not reach the mail server at {self.host}:{self.port}: {reason}") from error
        except BaseException:
            # Interrupted mid-conversation (RQ's job timeout or shutdown): the
            # socket may still owe us a reply, so it cannot be reused.
            self._discard()
            raise

    def close(self) -> None:
        """End this process's SMTP conversation politely, if one is open."""
        if self._client is not None and self._client_pid == os.getpid():
            try:
                self._client.quit()
            except (OSError, smtplib.SMTPException):
                self._client.close()
        self._client = None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine by itself, without DNS: a name
    that resolves to 127.0.0.1 today may not tomorrow, so only "localhost"
    and loopback addresses count."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _classify(code: int, reason: str) -> TransientMailError | PermanentMailError:
    # RFC 5321: 5xx are permanent failures, 4xx transient. Any other code in
    # an error means the conversation went wrong, which may pass too.
    return PermanentMailError(reason) if 500 <= code < 600 else TransientMailError(reason)
