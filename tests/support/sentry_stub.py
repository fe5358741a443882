"""A local stand-in for Sentry's ingest endpoint.

The real sentry-sdk, given ``stub.dsn``, posts envelopes to
``/api/<project>/envelope/`` (gzip-compressed, or brotli when the ``brotli``
package is installed). The stub checks the auth header, unpacks each envelope
into its items and keeps them, raw, so tests can look at what Sentry would
receive: ``.events`` are the error events; ``.raw`` is every byte, decoded, for
"no secret anywhere" checks.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import start_http_server, stop_http_server
from tests.support.processes import wait_for

PUBLIC_KEY = "fibtasticpublickey"
PROJECT_ID = "1"


@dataclass
class EnvelopeItem:
    type: str
    headers: dict
    payload: bytes

    def json(self) -> dict:
        return json.loads(self.payload)


@dataclass
class SentryStub:
    items: list[EnvelopeItem] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def start(self) -> SentryStub:
        self._lock = threading.Lock()
        self.server = start_http_server(_handler_for(self))
        return self

    def stop(self) -> None:
        stop_http_server(self.server)

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.server.server_address[1]}/{PROJECT_ID}"

    @property
    def events(self) -> list[dict]:
        """Error events (not transactions, sessions or client reports)."""
        with self._lock:
            return [item.json() for item in self.items if item.type == "event"]

    def received(self, item_type: str) -> list[dict]:
        """The payloads of every item of one type ("client_report", "transaction", ...)."""
        with self._lock:
            return [item.json() for item in self.items if item.type == item_type]

    def wait_for_events(self, count: int, timeout: float = 20) -> list[dict]:
        return wait_for(lambda: len(self.events) >= count and self.events, timeout=timeout, what=f"{count} Sentry event(s)")

    def everything_received(self) -> str:
        with self._lock:
            return "\n".join(self.raw)

    def _receive(self, body: bytes) -> None:
        items = parse_envelope(body)
        with self._lock:
            self.raw.append(body.decode("utf-8", errors="replace"))
            self.items.extend(items)


def parse_envelope(body: bytes) -> list[EnvelopeItem]:
    """Sentry's envelope format: a header line, then per item a header line and
    a payload of ``length`` bytes (or up to the next newline without one).
    https://develop.sentry.dev/sdk/data-model/envelopes/"""
    _envelope_header, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        headers = json.loads(header_line)
        if "length" in headers:
            payload, rest = rest[: headers["length"]], rest[headers["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append(EnvelopeItem(headers.get("type", ""), headers, payload))
    return items


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # only installed when sentry-sdk would use it

        return brotli.decompress(body)
    return body


def _handler_for(stub: SentryStub):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            auth = self.headers.get("X-Sentry-Auth", "")
            if self.path != f"/api/{PROJECT_ID}/envelope/" or f"sentry_key={PUBLIC_KEY}" not in auth:
                stub.rejected.append(f"{self.path} {auth}")
                self.send_response(403)
                self.end_headers()
                return
            stub._receive(_decompress(body, self.headers.get("Content-Encoding", "")))
            answer = json.dumps({"id": "0" * 32}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args):
            pass

    return Handler
