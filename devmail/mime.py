"""Defensive MIME parsing: mail from the outside world is untrusted and often
broken, so every function here degrades to "show the source" instead of raising.
That is why exceptions are caught blindly: the stdlib parser can raise almost
anything on hostile input, and losing or 500ing on a message is worse.
"""

from __future__ import annotations

import email
import email.policy
import logging
import mimetypes
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    index: int
    cid: str
    content_type: str
    filename: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ParsedMessage:
    content_type: str = "text/plain"
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def formats(self) -> list[str]:
        # Same order as MailCatcher.
        formats = ["source"]
        if self.html is not None:
            formats.append("html")
        if self.plain is not None:
            formats.append("plain")
        return formats

    def find_attachment(self, key: str) -> Attachment | None:
        for attachment in self.attachments:
            if attachment.cid == key:
                return attachment
        if key.isdigit():
            for attachment in self.attachments:
                if attachment.index == int(key):
                    return attachment
        return None


def subject_of(raw: bytes) -> str:
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        return _clean(str(headers.get("subject", "") or ""))
    except Exception:
        log.debug("could not decode subject", exc_info=True)
        return ""


def parse(raw: bytes) -> ParsedMessage:
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:
        log.debug("unparseable message", exc_info=True)
        return ParsedMessage()

    plain_part = _body(message, "plain")
    html_part = _body(message, "html")
    attachments = []
    for part in _leaves(message):
        if part is plain_part or part is html_part:
            continue
        attachment = _attachment(part, index=len(attachments) + 1)
        if attachment is not None:
            attachments.append(attachment)
    return ParsedMessage(
        content_type=_content_type(message),
        plain=_text(plain_part),
        html=_text(html_part),
        attachments=attachments,
    )


def _clean(text: str) -> str:
    # Undecodable bytes come back as lone surrogates, which cannot be encoded
    # into JSON or HTML responses.
    return text.encode("utf-8", "replace").decode("utf-8")


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        log.debug("unreadable Content-Type", exc_info=True)
        return "application/octet-stream"


def _body(message: EmailMessage, subtype: str) -> Message | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:
        log.debug("could not find the %s body", subtype, exc_info=True)
        return None
    if part is None or _content_type(part) != f"text/{subtype}":
        return None
    return part


def _leaves(part: Message, depth: int = 0):
    # Walk multiparts only: an attached message/rfc822 is one attachment,
    # not a source of more bodies. The depth cap guards against hostile nesting.
    # A multipart whose boundary is broken has a str payload: nothing in it
    # can be trusted as a part, and the source view still shows it.
    try:
        maintype = part.get_content_maintype()
        children = part.get_payload()
    except Exception:
        log.debug("unreadable MIME part", exc_info=True)
        return
    if maintype != "multipart":
        yield part
        return
    if depth > 50 or not isinstance(children, list):
        return
    for child in children:
        yield from _leaves(child, depth + 1)


def _text(part: Message | None) -> str | None:
    if part is None:
        return None
    text = None
    try:
        content = part.get_content()
        if isinstance(content, str):
            text = _clean(content)
    except Exception:
        log.debug("falling back to lenient text decoding", exc_info=True)
    if text is None:
        data = _payload_bytes(part)
        if data is None:
            return None
        text = data.decode("utf-8", "replace")
    # SMTP forces CRLF line ends onto every message; they are not content.
    return text.replace("\r\n", "\n")


def _payload_bytes(part: Message) -> bytes | None:
    try:
        if part.get_content_maintype() == "message":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                inner = inner[0]
            if isinstance(inner, Message):
                return inner.as_bytes()
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            return data
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
    except Exception:
        log.debug("could not decode part payload", exc_info=True)
    return None


def _attachment(part: Message, index: int) -> Attachment | None:
    data = _payload_bytes(part)
    if data is None:
        return None
    try:
        cid = str(part.get("content-id", "") or "").strip().strip("<>").strip()
    except Exception:
        log.debug("unreadable Content-ID", exc_info=True)
        cid = ""
    try:
        filename = part.get_filename() or ""
    except Exception:
        log.debug("unreadable attachment filename", exc_info=True)
        filename = ""
    content_type = _content_type(part)
    if not filename:
        filename = f"part-{index}{_extension(content_type)}"
    return Attachment(
        index=index,
        cid=_clean(cid) or str(index),
        content_type=content_type,
        filename=_clean(filename),
        data=data,
    )


def _extension(content_type: str) -> str:
    return mimetypes.guess_extension(content_type) or ".bin"
