"""Real SMTP clients against a real devmail."""

from __future__ import annotations

import shutil
import smtplib
import subprocess

import pytest

from devmail import DevMail

BINARY = bytes(range(256)) * 4


def only_message(http):
    messages = http.get("/messages").json()
    assert len(messages) == 1
    return messages[0]


def test_plain_message(mailer, http, devmail, make_message):
    mailer.send(make_message("Plain one", "Just text.\n"))

    summary = only_message(http)
    assert summary["sender"] == "sender@example.com"
    assert summary["recipients"] == ["rcpt@example.com"]
    assert summary["subject"] == "Plain one"
    assert summary["size"] == len(devmail.store.get(summary["id"]).raw)

    details = http.get(f"/messages/{summary['id']}.json").json()
    assert details["formats"] == ["source", "plain"]
    assert details["attachments"] == []
    assert http.get(f"/messages/{summary['id']}.plain").text == "Just text.\n"
    assert http.get(f"/messages/{summary['id']}.html").status == 404


def test_envelope_recipients_are_kept(mailer, http):
    mailer.sendmail(
        "bounce@example.com",
        ["a@example.com", "b@example.com", "hidden-bcc@example.com"],
        "Subject: envelope\r\n\r\nbody\r\n",
    )
    summary = only_message(http)
    assert summary["sender"] == "bounce@example.com"
    assert summary["recipients"] == [
        "a@example.com",
        "b@example.com",
        "hidden-bcc@example.com",
    ]


def test_html_message(mailer, http, make_message):
    message = make_message("Only HTML")
    message.set_content("<h1>Hello <b>world</b></h1>", subtype="html")
    mailer.send(message)

    message_id = only_message(http)["id"]
    assert http.get(f"/messages/{message_id}.json").json()["formats"] == [
        "source",
        "html",
    ]
    reply = http.get(f"/messages/{message_id}.html")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "<h1>Hello <b>world</b></h1>" in reply.text
    csp = reply.headers["Content-Security-Policy"]
    assert "sandbox" in csp
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert http.get(f"/messages/{message_id}.plain").status == 404


def test_alternative_with_attachment_and_inline_image(mailer, http, devmail, make_message):
    message = make_message("Report", "Plain version.\n")
    message.add_alternative('<p>HTML version <img src="cid:logo@devmail.test"></p>', subtype="html")
    message.get_payload()[1].add_related(b"\x89PNG fake image", "image", "png", cid="<logo@devmail.test>")
    message.add_attachment(BINARY, maintype="application", subtype="octet-stream", filename="data.bin")
    message.add_attachment("Zeile ä\n", filename="notes-ä.txt")
    mailer.send(message)

    message_id = only_message(http)["id"]
    details = http.get(f"/messages/{message_id}.json").json()
    assert details["type"] == "multipart/mixed"
    assert details["formats"] == ["source", "html", "plain"]
    assert http.get(f"/messages/{message_id}.plain").text == "Plain version.\n"

    attachments = {a["filename"]: a for a in details["attachments"]}
    assert set(attachments) == {"part-1.png", "data.bin", "notes-ä.txt"}
    logo = attachments["part-1.png"]
    assert logo["cid"] == "logo@devmail.test"
    assert logo["type"] == "image/png"

    data = attachments["data.bin"]
    assert data["type"] == "application/octet-stream"
    assert data["size"] == len(BINARY)
    reply = http.get(data["href"])
    assert reply.status == 200
    assert reply.body == BINARY
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Disposition"].startswith("attachment")
    assert "data.bin" in reply.headers["Content-Disposition"]

    # The same part is reachable by its cid and by its 1-based index.
    assert http.get(logo["href"]).body == b"\x89PNG fake image"
    assert http.get(f"/messages/{message_id}/parts/1").body == b"\x89PNG fake image"
    assert http.get(f"/messages/{message_id}/parts/2").body == BINARY
    notes = http.get(attachments["notes-ä.txt"]["href"])
    assert notes.body.decode("utf-8").replace("\r\n", "\n") == "Zeile ä\n"
    assert "filename*=UTF-8''notes-%C3%A4.txt" in notes.headers["Content-Disposition"]
    assert http.get(f"/messages/{message_id}/parts/nope").status == 404

    # Inline images are rewritten to the part route so the sandboxed view shows them.
    html = http.get(f"/messages/{message_id}.html").text
    assert f'src="/messages/{message_id}/parts/logo@devmail.test"' in html

    eml = http.get(f"/messages/{message_id}.eml")
    assert eml.body == devmail.store.get(message_id).raw
    assert eml.headers["Content-Type"] == "message/rfc822"
    assert eml.headers["Content-Disposition"] == f"attachment; filename=message-{message_id}.eml"


def test_rfc2047_subject_is_decoded(mailer, http, devmail, make_message):
    subject = "Grüße — 你好 ✓ and a very long subject line that has to be folded"
    mailer.send(make_message(subject))

    summary = only_message(http)
    raw = devmail.store.get(summary["id"]).raw
    assert b"=?utf-8?" in raw.lower()  # it really went over the wire encoded
    assert summary["subject"] == subject
    assert subject in http.get("/").text


def test_smtputf8_address_and_raw_utf8_headers(mailer, http):
    sender = "jöran@exämple.org"
    raw = (
        "From: Jöran <jöran@exämple.org>\r\n"
        "To: empfänger@exämple.org\r\n"
        "Subject: Ünïcödé without encoded words\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Grüße!\r\n"
    ).encode()
    mailer.sendmail(
        sender,
        ["empfänger@exämple.org"],
        raw,
        mail_options=["SMTPUTF8", "BODY=8BITMIME"],
    )

    summary = only_message(http)
    assert summary["sender"] == sender
    assert summary["recipients"] == ["empfänger@exämple.org"]
    assert summary["subject"] == "Ünïcödé without encoded words"
    assert http.get(f"/messages/{summary['id']}.plain").text == "Grüße!\n"
    assert http.get(f"/messages/{summary['id']}.source").body == raw


def test_8bitmime_body(mailer, http):
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: 8bit\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Größe: 😀\r\n".encode()
    )
    with mailer.smtp() as client:
        client.ehlo()
        assert client.has_extn("8bitmime")
        client.sendmail("a@example.com", ["b@example.com"], raw, ["BODY=8BITMIME"])

    summary = only_message(http)
    assert http.get(f"/messages/{summary['id']}.plain").text == "Größe: 😀\n"
    assert http.get(f"/messages/{summary['id']}.source").body == raw


def test_oversized_message_is_refused_at_mail_from(mailer, http, devmail, make_message, max_size):
    big = make_message("Too big", "x" * 70 + "\n")
    big.add_attachment(b"\0" * max_size, maintype="application", subtype="zip")
    # smtplib announces SIZE=..., so the server refuses at MAIL FROM already.
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        mailer.send(big)
    assert refused.value.smtp_code == 552
    assert http.get("/messages").json() == []
    assert len(devmail.store) == 0


def test_oversized_message_is_refused_at_data(mailer, http, devmail, max_size):
    raw = b"Subject: too big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 300
    assert len(raw) > max_size
    with mailer.smtp() as client:
        client.ehlo()
        # Act like a client that does not announce SIZE=, so the server can
        # only refuse once the data is in.
        del client.esmtp_features["size"]
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@example.com", ["b@example.com"], raw)
        assert refused.value.smtp_code == 552
        # The session stays usable after the refusal.
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: ok\r\n\r\nok")
    assert [m["subject"] for m in http.get("/messages").json()] == ["ok"]


MALFORMED = {
    "broken-boundary": (
        b"From: a@example.com\r\nSubject: broken boundary\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="expected"\r\n\r\n'
        b"--something-else\r\nContent-Type: text/plain\r\n\r\nlost\r\n"
        b"--something-else--\r\n"
    ),
    "unterminated-multipart": (
        b"Subject: unterminated\r\nContent-Type: multipart/alternative; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\n!!!not base64!!!\r\n--b\r\nContent-Type: text/plain; charset=x-nonsense"
        b"\r\n\r\n\xff\xfe bytes in an unknown charset\r\n"
    ),
    "garbage-headers": (
        b"this line is not a header at all\r\n"
        b"Subject: =?utf-8?q?unterminated_encoded_word\r\n"
        b"From: <<<@@@>>>\r\nTo: ,,,;;;\r\n"
        b"Content-Type: ///; charset=\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%ZZ%\r\n"
        b"\r\n\x00\xff\xfe\x80 binary junk\r\n"
    ),
    "not-mail-at-all": b"\x00\x01\x02\xff\r\n\r\n\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_mime_is_kept_and_shown(mailer, http, raw):
    mailer.sendmail("a@example.com", ["b@example.com"], raw)

    summary = only_message(http)
    message_id = summary["id"]
    assert http.get(f"/messages/{message_id}.source").body == raw
    assert http.get(f"/messages/{message_id}.eml").body == raw
    details = http.get(f"/messages/{message_id}.json").json()
    assert "source" in details["formats"]
    for fmt in ("html", "plain"):
        assert http.get(f"/messages/{message_id}.{fmt}").status == (200 if fmt in details["formats"] else 404)
    for attachment in details["attachments"]:
        assert http.get(attachment["href"]).status == 200
    page = http.get("/")
    assert page.status == 200
    assert f'data-message-id="{message_id}"' in page.text


def test_oldest_messages_are_dropped_beyond_the_cap(http_client):
    with DevMail(smtp_port=0, http_port=0, max_messages=3) as devmail:
        with smtplib.SMTP(devmail.smtp_ip, devmail.smtp_port, timeout=5) as client:
            for number in range(1, 6):
                client.sendmail(
                    "a@example.com",
                    ["b@example.com"],
                    f"Subject: number {number}\r\n\r\nbody\r\n",
                )
        http = http_client(devmail.http_url)
        messages = http.get("/messages").json()
        assert [m["subject"] for m in messages] == [
            "number 3",
            "number 4",
            "number 5",
        ]
        assert [m["id"] for m in messages] == [3, 4, 5]
        assert http.get("/messages/1.json").status == 404


@pytest.mark.skipif(
    shutil.which("swaks") is None,
    reason="Debian's swaks is not installed (apt-get install swaks to run this)",
)
def test_swaks_delivers(devmail, http):
    result = subprocess.run(
        [
            "swaks",
            "--server",
            devmail.smtp_ip,
            "--port",
            str(devmail.smtp_port),
            "--from",
            "swaks@example.com",
            "--to",
            "rcpt@example.com",
            "--header",
            "Subject: sent by swaks",
            "--body",
            "Hello from swaks",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = only_message(http)
    assert summary["subject"] == "sent by swaks"
    assert summary["sender"] == "swaks@example.com"
    assert "Hello from swaks" in http.get(f"/messages/{summary['id']}.plain").text
