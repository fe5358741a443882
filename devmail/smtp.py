"""The SMTP side: an aiosmtpd server that puts every message into the store."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devmail.store import MessageStore

DEFAULT_MAX_SIZE = 32 * 1024 * 1024


class StoreHandler:
    """aiosmtpd handler that accepts every recipient and keeps the message."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.store.add(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        return "250 Message accepted for delivery"


class SMTPServer(Controller):
    """A threaded aiosmtpd controller that also works with port 0.

    One instance runs once: stop() closes its event loop.
    """

    def __init__(
        self,
        store: MessageStore,
        host: str = "127.0.0.1",
        port: int = 1025,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        super().__init__(
            StoreHandler(store),
            hostname=host,
            port=port,
            # Without an explicit name aiosmtpd calls socket.getfqdn() for
            # every connection, which can stall for seconds without DNS.
            server_hostname="devmail.localhost",
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        self._socket: socket.socket | None = None

    def start(self) -> None:
        # Bind here rather than in aiosmtpd's thread: a busy port then fails
        # at once with OSError instead of after the 5 s ready timeout, and
        # port 0 is resolved before Controller.start() checks the server by
        # connecting to self.port.
        family = socket.AF_INET6 if ":" in self.hostname else socket.AF_INET
        try:
            self._socket = socket.create_server((self.hostname, self.port), family=family)
            self.port = self._socket.getsockname()[1]
            super().start()
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        # Controller leaves its event loop (and our socket) open when start()
        # fails; close them so a failed start leaks nothing.
        if self._socket is not None:
            self._socket.close()
        if self._thread is not None and self._thread.is_alive():
            self.stop()
        elif not self.loop.is_closed():
            self._thread = None
            self.loop.close()

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._socket, ssl=self.ssl_context)
