"""The SMTP backend against a real SMTP server (aiosmtpd)."""

import socket

import pytest

from jobs.core.mail import PermanentMailError, TransientMailError
from jobs.core.mail.smtp import SmtpMailer
from jobs.email_content import fibonacci_email
from tests.support.mail_checks import assert_fibonacci_email
from tests.support.processes import free_port


def test_delivers_a_multipart_message(smtp_sink):
    SmtpMailer(smtp_sink.url).send(fibonacci_email("FibTastic <from@example.com>", "to@example.com", 25))
    [received] = smtp_sink.wait_for_messages(1)
    assert received.sender == "from@example.com"
    assert received.message.get_content_type() == "multipart/alternative"
    assert_fibonacci_email(received, "to@example.com", 25)


def test_utf8_recipient_uses_smtputf8(smtp_sink):
    SmtpMailer(smtp_sink.url).send(fibonacci_email("from@example.com", "jöran@exämple.org", 3))
    [received] = smtp_sink.wait_for_messages(1)
    assert received.recipients == ["jöran@exämple.org"]


def test_5xx_is_permanent(smtp_sink):
    smtp_sink.reply = "550 5.1.1 mailbox unavailable"
    with pytest.raises(PermanentMailError, match=r"550 5\.1\.1 mailbox unavailable"):
        SmtpMailer(smtp_sink.url).send(fibonacci_email("from@example.com", "to@example.com", 3))


def test_4xx_is_transient(smtp_sink):
    smtp_sink.reply = "451 4.3.0 try again later"
    with pytest.raises(TransientMailError, match="451"):
        SmtpMailer(smtp_sink.url).send(fibonacci_email("from@example.com", "to@example.com", 3))


def test_connection_refused_is_transient():
    with pytest.raises(TransientMailError, match="could not reach the mail server"):
        SmtpMailer(f"smtp://127.0.0.1:{free_port()}").send(fibonacci_email("from@example.com", "to@example.com", 3))


def test_a_silent_server_times_out_as_transient():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mailer = SmtpMailer(f"smtp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        with pytest.raises(TransientMailError, match="timed out"):
            mailer.send(fibonacci_email("from@example.com", "to@example.com", 3))


@pytest.mark.parametrize("url", ["http://example.com", "smtp://", "localhost:25"])
def test_malformed_url_is_refused_at_construction(url):
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpMailer(url)


def test_credentials_and_tls_mode_come_from_the_url():
    mailer = SmtpMailer("smtps://apikey:p%40ss@smtp.example.com")
    assert (mailer.implicit_tls, mailer.host, mailer.port, mailer.username, mailer.password) == (
        True,
        "smtp.example.com",
        465,
        "apikey",
        "p@ss",
    )
