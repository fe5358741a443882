"""SmtpMailer keeps one SMTP conversation per process and recovers when it drops."""

import pytest
from aiosmtpd.smtp import SMTP as SmtpServer

from jobs.core.mail import TransientMailError
from jobs.core.mail.smtp import SmtpMailer
from jobs.email_content import fibonacci_email


def test_consecutive_emails_share_one_connection(smtp_sink, monkeypatch):
    sessions = []
    original = SmtpServer.connection_made

    def count_session(self, transport):
        sessions.append(transport)
        return original(self, transport)

    monkeypatch.setattr(SmtpServer, "connection_made", count_session)
    mailer = SmtpMailer(smtp_sink.url)
    for number in range(3):
        mailer.send(fibonacci_email("from@example.com", f"to{number}@example.com", 5))
    assert len(smtp_sink.wait_for_messages(3)) == 3
    assert len(sessions) == 1
    mailer.close()


def test_a_connection_the_server_dropped_is_replaced(smtp_sink):
    mailer = SmtpMailer(smtp_sink.url)
    mailer.send(fibonacci_email("from@example.com", "first@example.com", 5))
    mailer._client.sock.close()  # as if the server timed the idle connection out
    mailer.send(fibonacci_email("from@example.com", "second@example.com", 5))
    assert [mail.recipients for mail in smtp_sink.wait_for_messages(2)] == [["first@example.com"], ["second@example.com"]]
    mailer.close()


def test_a_refused_message_does_not_poison_the_next(smtp_sink):
    mailer = SmtpMailer(smtp_sink.url)
    smtp_sink.reply = "451 4.7.1 try later"
    with pytest.raises(TransientMailError, match="451"):
        mailer.send(fibonacci_email("from@example.com", "first@example.com", 5))
    smtp_sink.reply = None
    mailer.send(fibonacci_email("from@example.com", "second@example.com", 5))
    assert [mail.recipients for mail in smtp_sink.wait_for_messages(1)] == [["second@example.com"]]
