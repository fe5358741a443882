"""The web side: MailCatcher-compatible HTTP API plus a single-page UI."""

from __future__ import annotations

import io
import re
import secrets
from urllib.parse import quote, unquote

from flask import Flask, Response, abort, jsonify, render_template, request, send_file

from devmail.store import Message, MessageStore

# Everything under /messages/<id>.* and /parts/ is attacker-controlled content
# served from our origin, so it must never run script or reach the network.
UNTRUSTED_CSP = "default-src 'none'; sandbox"
# The HTML view may show its own styles and inline images, nothing else:
# remote images would let a mail phone home (tracking pixels).
HTML_PART_CSP = (
    "default-src 'none'; img-src 'self' {origin} data:; style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'; sandbox"
)
# A sandboxed document has an opaque origin, which 'self' may not match in
# every browser, so the server's origin is spelled out too (when it is sane).
_SAFE_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d+)?|https?://\[[0-9A-Fa-f:.]+\](:\d+)?")

_CID_REF = re.compile(r"""(?<=["'(=\s])cid:([^"'()\s>]+)""", re.IGNORECASE)


def human_size(size: int) -> str:
    # Keep in step with humanSize() in templates/index.html.
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def create_app(store: MessageStore) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False
    app.jinja_env.filters["human_size"] = human_size

    def get_or_404(message_id: int) -> Message:
        message = store.get(message_id)
        if message is None:
            abort(404)
        return message

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Content-Security-Policy", UNTRUSTED_CSP)
        return response

    @app.get("/")
    def index() -> Response:
        nonce = secrets.token_urlsafe(16)
        html = render_template("index.html", messages=list(reversed(store.list())), nonce=nonce)
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'nonce-{nonce}'; "
            f"style-src 'nonce-{nonce}'; img-src 'self' data:; frame-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/messages")
    def list_messages() -> Response:
        # The page polls this; the ETag turns an unchanged poll into a bodyless 304.
        response = jsonify([message.summary() for message in store.list()])
        response.set_etag(store.version)
        response.headers["Cache-Control"] = "no-cache"
        return response.make_conditional(request)

    @app.delete("/messages")
    def clear_messages() -> tuple[str, int]:
        store.clear()
        return "", 204

    @app.delete("/messages/<int:message_id>")
    def delete_message(message_id: int) -> tuple[str, int]:
        if not store.delete(message_id):
            abort(404)
        return "", 204

    @app.get("/messages/<int:message_id>.json")
    def message_json(message_id: int) -> Response:
        message = get_or_404(message_id)
        parsed = message.parsed
        data = message.summary()
        data["type"] = parsed.content_type
        data["formats"] = parsed.formats
        data["attachments"] = [
            {
                "cid": attachment.cid,
                "type": attachment.content_type,
                "filename": attachment.filename,
                "size": attachment.size,
                "href": part_href(message.id, attachment.cid),
            }
            for attachment in parsed.attachments
        ]
        return jsonify(data)

    @app.get("/messages/<int:message_id>.html")
    def message_html(message_id: int) -> Response:
        message = get_or_404(message_id)
        html = message.parsed.html
        if html is None:
            abort(404)
        # cid: URLs are percent-encoded (RFC 2392); part_href encodes again.
        html = _CID_REF.sub(lambda m: part_href(message.id, unquote(m.group(1))), html)
        response = Response(html, mimetype="text/html")
        origin = request.host_url.rstrip("/")
        if not _SAFE_ORIGIN.fullmatch(origin):
            origin = ""
        response.headers["Content-Security-Policy"] = HTML_PART_CSP.format(origin=origin)
        return response

    @app.get("/messages/<int:message_id>.plain")
    def message_plain(message_id: int) -> Response:
        plain = get_or_404(message_id).parsed.plain
        if plain is None:
            abort(404)
        return Response(plain, mimetype="text/plain")

    @app.get("/messages/<int:message_id>.source")
    def message_source(message_id: int) -> Response:
        return Response(get_or_404(message_id).raw, mimetype="text/plain")

    @app.get("/messages/<int:message_id>.eml")
    def message_eml(message_id: int) -> Response:
        message = get_or_404(message_id)
        return send_file(
            io.BytesIO(message.raw),
            mimetype="message/rfc822",
            as_attachment=True,
            download_name=f"message-{message.id}.eml",
        )

    @app.get("/messages/<int:message_id>/parts/<path:cid>")
    def message_part(message_id: int, cid: str) -> Response:
        attachment = get_or_404(message_id).parsed.find_attachment(cid)
        if attachment is None:
            abort(404)
        return send_file(
            io.BytesIO(attachment.data),
            mimetype=attachment.content_type,
            as_attachment=True,
            download_name=attachment.filename,
        )

    return app


def part_href(message_id: int, cid: str) -> str:
    return f"/messages/{message_id}/parts/{quote(cid, safe='@')}"
