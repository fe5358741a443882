"""The store and the MIME parser on their own."""

from __future__ import annotations

import threading
from email.message import EmailMessage

import pytest

from devmail import mime
from devmail.store import MessageStore


def test_cap_drops_oldest_first():
    store = MessageStore(max_messages=2)
    ids = [store.add("a@x", ["b@x"], f"Subject: {n}\r\n\r\n".encode()).id for n in "123"]
    assert ids == [1, 2, 3]
    assert [m.subject for m in store.list()] == ["2", "3"]
    assert store.get(1) is None


def test_rejects_a_cap_below_one():
    with pytest.raises(ValueError):
        MessageStore(max_messages=0)


def test_version_changes_on_every_change():
    store = MessageStore()
    seen = {store.version}
    message = store.add("a@x", ["b@x"], b"\r\n")
    seen.add(store.version)
    assert store.delete(message.id)
    seen.add(store.version)
    assert not store.delete(message.id)
    seen.add(store.version)  # a no-op delete must not look like a change...
    store.clear()
    seen.add(store.version)
    assert len(seen) == 4  # ...so four distinct versions, not five


def test_concurrent_adds_get_unique_ids():
    store = MessageStore(max_messages=10_000)

    def add_many():
        for _ in range(200):
            store.add("a@x", ["b@x"], b"Subject: x\r\n\r\n")

    threads = [threading.Thread(target=add_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m.id for m in store.list()]
    assert len(ids) == 1600
    assert ids == sorted(set(ids))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 10,
        b"Subject: =?x-unknown-charset?q?abc?=\r\n\r\n",
        b"Subject: =?utf-8?b?!!!?=\r\n\r\n",
        b"Subject: \xff\xfe\r\n\r\n",
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xe4\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n***\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 200,
    ],
)
def test_parser_never_raises(raw):
    subject = mime.subject_of(raw)
    assert isinstance(subject, str)
    subject.encode("utf-8")  # no lone surrogates that would break JSON
    parsed = mime.parse(raw)
    assert "source" in parsed.formats
    for text in (parsed.plain, parsed.html):
        if text is not None:
            text.encode("utf-8")


def test_unknown_charset_falls_back_to_utf8():
    parsed = mime.parse(b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n")
    assert parsed.plain == "Grüße\n"


def test_attached_message_is_one_attachment():
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("inner plain")
    inner.add_alternative("<p>inner html</p>", subtype="html")
    outer = EmailMessage()
    outer["Subject"] = "outer"
    outer.set_content("outer plain")
    outer.add_attachment(inner)

    parsed = mime.parse(outer.as_bytes())
    assert parsed.plain == "outer plain\n"
    assert parsed.html is None
    [attachment] = parsed.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename == "part-1.eml"
    assert b"Subject: inner" in attachment.data
    assert parsed.find_attachment("1") is attachment
    assert parsed.find_attachment("2") is None
