"""MailCatcher's HTTP routes and the page, over real HTTP."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from devmail.store import MessageStore
from devmail.web import create_app

ROUTES = ("json", "html", "plain", "source", "eml")


def add(devmail, subject="Hello", body="Body text", html=None):
    raw = f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
    if html is None:
        raw += f"\r\n{body}\r\n"
    else:
        raw += (
            'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
            f"--b\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
            f"--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n--b--\r\n"
        )
    return devmail.store.add("a@example.com", ["b@example.com"], raw.encode())


def test_list_is_oldest_first_with_mailcatcher_fields(devmail, http):
    first = add(devmail, "first")
    second = add(devmail, "second")

    reply = http.get("/messages")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == [
        {
            "id": message.id,
            "sender": "a@example.com",
            "recipients": ["b@example.com"],
            "subject": message.subject,
            "size": message.size,
            "created_at": message.created_at,
        }
        for message in (first, second)
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first.created_at)


def test_list_answers_304_while_unchanged(devmail, http):
    add(devmail)
    etag = http.get("/messages").headers["ETag"]
    request = urllib.request.Request(http.base_url + "/messages", headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request, timeout=5)
    assert not_modified.value.code == 304
    not_modified.value.close()

    add(devmail)
    assert http.get("/messages").headers["ETag"] != etag


def test_message_routes(devmail, http):
    message = add(devmail, "Routes", "plain body", "<p>html body</p>")
    base = f"/messages/{message.id}"

    details = http.get(f"{base}.json").json()
    assert details["subject"] == "Routes"
    assert details["type"] == "multipart/alternative"
    assert details["formats"] == ["source", "html", "plain"]
    assert details["attachments"] == []

    html = http.get(f"{base}.html")
    assert html.text == "<p>html body</p>"
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "sandbox" in html.headers["Content-Security-Policy"]

    plain = http.get(f"{base}.plain")
    assert plain.text == "plain body"
    assert plain.headers["Content-Type"] == "text/plain; charset=utf-8"

    source = http.get(f"{base}.source")
    assert source.body == message.raw
    assert source.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert source.headers["X-Content-Type-Options"] == "nosniff"

    eml = http.get(f"{base}.eml")
    assert eml.body == message.raw
    assert eml.headers["Content-Type"] == "message/rfc822"
    assert eml.headers["Content-Disposition"] == (f"attachment; filename=message-{message.id}.eml")


def test_delete_one(devmail, http):
    keep = add(devmail, "keep")
    gone = add(devmail, "gone")

    assert http.delete(f"/messages/{gone.id}").status == 204
    assert http.get(f"/messages/{gone.id}.json").status == 404
    assert http.delete(f"/messages/{gone.id}").status == 404
    assert [m["id"] for m in http.get("/messages").json()] == [keep.id]


def test_delete_all(devmail, http):
    add(devmail)
    add(devmail)
    assert http.delete("/messages").status == 204
    assert http.get("/messages").json() == []
    # Ids keep increasing, so a stale page can never open a different message.
    assert add(devmail).id == 3


@pytest.mark.parametrize("route", ROUTES)
def test_unknown_id_is_404(devmail, http, route):
    add(devmail)
    assert http.get(f"/messages/999.{route}").status == 404
    assert http.get(f"/messages/abc.{route}").status == 404


def test_unknown_things_are_404(devmail, http):
    message = add(devmail)
    assert http.get(f"/messages/{message.id}.exe").status == 404
    assert http.get(f"/messages/{message.id}/parts/1").status == 404
    assert http.get("/messages/999/parts/1").status == 404
    assert http.delete("/messages/999").status == 404


def test_page_lists_messages_newest_first(devmail, http):
    add(devmail, "Older subject")
    add(devmail, "Newer <script>alert(1)</script> subject")

    page = http.get("/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in page.text

    assert "Older subject" in page.text
    assert "Newer &lt;script&gt;alert(1)&lt;/script&gt; subject" in page.text
    assert "<script>alert(1)" not in page.text
    assert re.findall(r'<tr data-message-id="(\d+)"', page.text) == ["2", "1"]
    for selector_id in ("messages", "clear", "tab-html", "tab-plain", "tab-source"):
        assert f'id="{selector_id}"' in page.text
    assert re.search(r'<iframe id="html-view"[^>]* sandbox[ >]', page.text)


def test_empty_page(http):
    page = http.get("/")
    assert page.status == 200
    assert "No messages yet" in page.text
    assert "data-message-id" not in page.text.split("<script")[0]


def test_flask_test_client_works_without_servers():
    store = MessageStore()
    store.add("a@example.com", ["b@example.com"], b"Subject: direct\r\n\r\nhi\r\n")
    client = create_app(store).test_client()
    assert client.get("/messages").json[0]["subject"] == "direct"
    assert client.get("/messages/1.plain").text == "hi\n"
    assert b"direct" in client.get("/").data
