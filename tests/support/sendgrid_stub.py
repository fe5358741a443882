"""A local stand-in for SendGrid's v3 mail/send endpoint.

It checks each request the way SendGrid would (path, Bearer key, JSON body
with personalizations, from, subject and content) and answers like SendGrid:
202 with an empty body, or an error status with
``{"errors": [{"message", "field", "help"}]}``. Tests choose the answer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import start_http_server, stop_http_server


@dataclass
class SendGridRequest:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class SendGridStub:
    api_key: str = "SG.test-key"
    # (status, errors) answered to every valid request; 202 means accepted.
    status: int = 202
    errors: list[dict] = field(default_factory=list)
    delay: float = 0.0
    requests: list[SendGridRequest] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)

    def start(self) -> SendGridStub:
        self.server = start_http_server(_handler_for(self))
        return self

    def stop(self) -> None:
        stop_http_server(self.server)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_with(self, status: int, message: str = "", field_name: str | None = None) -> None:
        self.status = status
        self.errors = [{"message": message or f"error {status}", "field": field_name, "help": None}]


def _problems(stub: SendGridStub, path: str, headers, body: dict | None) -> tuple[int, list[dict]] | None:
    """What real SendGrid would refuse regardless of the test's chosen answer."""
    if path != "/v3/mail/send":
        return 404, [{"message": "resource not found", "field": None, "help": None}]
    if headers.get("Authorization") != f"Bearer {stub.api_key}":
        return 401, [{"message": "The provided authorization grant is invalid, expired, or revoked", "field": None, "help": None}]
    if body is None:
        return 400, [{"message": "Bad Request", "field": None, "help": None}]
    missing = []
    personalizations = body.get("personalizations") or []
    if not personalizations or not all(p.get("to") and all(t.get("email") for t in p["to"]) for p in personalizations):
        missing.append("personalizations")
    if not (body.get("from") or {}).get("email"):
        missing.append("from.email")
    if not body.get("subject") and not all(p.get("subject") for p in personalizations):
        missing.append("subject")
    contents = body.get("content") or []
    if not contents or any(not c.get("type") or not c.get("value") for c in contents):
        missing.append("content")
    elif contents[0]["type"] != "text/plain":
        return 400, [{"message": "If present, text/plain and text/html may only be provided in order.", "field": "content", "help": None}]
    if missing:
        return 400, [{"message": "The field is required.", "field": name, "help": None} for name in missing]
    return None


def _handler_for(stub: SendGridStub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _answer(self, status: int, errors: list[dict]) -> None:
            payload = b"" if status == 202 else json.dumps({"errors": errors}).encode()
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 202:
                self.send_header("X-Message-Id", f"stub-{len(stub.accepted)}")
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            request = SendGridRequest(self.path, dict(self.headers), body if isinstance(body, dict) else {})
            stub.requests.append(request)
            if stub.delay:
                time.sleep(stub.delay)
            problem = _problems(stub, self.path, self.headers, body if isinstance(body, dict) else None)
            if problem:
                self._answer(*problem)
                return
            if stub.status == 202:
                stub.accepted.append(body)
            self._answer(stub.status, stub.errors)

    return Handler
