"""An SMTP sink that can stall a conversation before the message is complete.

``SmtpSink.delay`` waits after the whole message has arrived, which is where
a real server has in effect accepted it. A worker interrupted there could not
tell whether the mail went out. To test "the job stops and runs again, and
exactly one email arrives", this one stalls at RCPT TO instead: a client that
gives up there has certainly not handed the message over.
"""

from __future__ import annotations

import asyncio
import threading

from tests.support.smtp_sink import SmtpSink


class StallingSmtpSink(SmtpSink):
    def __init__(self) -> None:
        super().__init__()
        self.stall_seconds = 0.0
        self.stalled = threading.Event()  # a conversation has reached the stall
        self.stalls_started = 0
        self.stalls_finished = 0
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 no such user", refused at RCPT TO

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stall_seconds:
            with self.lock:
                self.stalls_started += 1
            self.stalled.set()
            try:
                await asyncio.sleep(self.stall_seconds)
            finally:  # aiosmtpd cancels the handler when the client hangs up
                with self.lock:
                    self.stalls_finished += 1
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"
