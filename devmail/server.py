"""Runs the SMTP server and the web server together, in background threads."""

from __future__ import annotations

import socket
import threading
from typing import NamedTuple, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devmail.smtp import DEFAULT_MAX_SIZE, SMTPServer
from devmail.store import DEFAULT_MAX_MESSAGES, MessageStore
from devmail.web import create_app

DEFAULT_SMTP_IP = "127.0.0.1"
DEFAULT_SMTP_PORT = 1025
DEFAULT_HTTP_IP = "127.0.0.1"
DEFAULT_HTTP_PORT = 1080


class Ports(NamedTuple):
    smtp: int
    http: int


class _QuietHandler(WSGIRequestHandler):
    # HTTP/1.0 closes every connection after its response, so no keep-alive
    # handler thread can outlive stop(); the page's polls are local and cheap.
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The page polls every 1.5 s; logging each poll would drown real output.
        pass


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class DevMail:
    """SMTP sink plus web UI. ``start()`` returns the actually bound ports,
    which matters when port 0 asks the OS for a free one.

    >>> with DevMail(smtp_port=0, http_port=0) as devmail:  # doctest: +SKIP
    ...     smtplib.SMTP(devmail.smtp_ip, devmail.smtp_port).sendmail(...)
    """

    def __init__(
        self,
        smtp_ip: str = DEFAULT_SMTP_IP,
        smtp_port: int = DEFAULT_SMTP_PORT,
        http_ip: str = DEFAULT_HTTP_IP,
        http_port: int = DEFAULT_HTTP_PORT,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_size: int = DEFAULT_MAX_SIZE,
        store: MessageStore | None = None,
    ) -> None:
        self.smtp_ip = smtp_ip
        self.smtp_port = smtp_port
        self.http_ip = http_ip
        self.http_port = http_port
        self.max_size = max_size
        self.store = store if store is not None else MessageStore(max_messages)
        self.app = create_app(self.store)
        self._smtp: SMTPServer | None = None
        self._http: BaseWSGIServer | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def http_url(self) -> str:
        return f"http://{_format_host(self.http_ip)}:{self.http_port}"

    @property
    def running(self) -> bool:
        return self._smtp is not None

    def describe(self) -> str:
        return f"devmail: SMTP on {_format_host(self.smtp_ip)}:{self.smtp_port}, web on {self.http_url}"

    def start(self) -> Ports:
        if self.running:
            raise RuntimeError("devmail is already running")
        smtp = SMTPServer(self.store, host=self.smtp_ip, port=self.smtp_port, max_size=self.max_size)
        smtp.start()
        try:
            self._http = self._make_http_server()
        except BaseException:
            smtp.stop()
            raise
        self._smtp = smtp
        self.smtp_port = smtp.port
        self.http_port = self._http.port
        self._http_thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="devmail-http",
            daemon=True,
        )
        self._http_thread.start()
        return Ports(self.smtp_port, self.http_port)

    def _make_http_server(self) -> BaseWSGIServer:
        # Bind the socket ourselves: on a bind error make_server() prints and
        # calls sys.exit(), which is no way to fail inside someone's process.
        family = socket.AF_INET6 if ":" in self.http_ip else socket.AF_INET
        sock = socket.create_server((self.http_ip, self.http_port), family=family)
        try:
            return make_server(
                self.http_ip,
                sock.getsockname()[1],
                self.app,
                threaded=True,
                request_handler=_QuietHandler,
                fd=sock.fileno(),
            )
        finally:
            # make_server() works on a duplicate of the descriptor.
            sock.close()

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join()
            self._http_thread = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
