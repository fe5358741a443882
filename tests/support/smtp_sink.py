"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.processes import free_port, wait_for


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None, f"no {content_type} part"
        return found.get_content()


class SmtpSink:
    """Answers like a mail server; ``reply`` and ``delay`` make it misbehave."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        self.reply: str | None = None  # e.g. "550 5.1.1 no such user"
        self.delay = 0.0
        self.data_received = threading.Event()  # a whole message has arrived (before ``delay`` and ``reply``)
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)

    async def handle_DATA(self, server, session, envelope):
        self.data_received.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply:
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for_messages(self, count: int, timeout: float = 20) -> list[ReceivedMail]:
        wait_for(lambda: len(self.messages) >= count, timeout=timeout, what=f"{count} message(s) at the SMTP sink")
        with self.lock:
            return list(self.messages)
