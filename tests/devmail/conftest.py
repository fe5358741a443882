"""Fixtures for the devmail tests: a real devmail on free ports, real clients."""

from __future__ import annotations

import json
import smtplib
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from devmail import DevMail

# Small enough that the oversized-message test stays fast.
TEST_MAX_SIZE = 256 * 1024


@pytest.fixture(autouse=True)
def no_leftover_threads():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while True:
        leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leftover or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not leftover, f"threads left running: {leftover}"


@pytest.fixture
def devmail():
    with DevMail(smtp_port=0, http_port=0, max_size=TEST_MAX_SIZE) as server:
        yield server


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


class Http:
    """Tiny urllib client that returns error responses instead of raising."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, path: str) -> Reply:
        request = urllib.request.Request(self.base_url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, dict(error.headers), error.read())

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def delete(self, path: str) -> Reply:
        return self.request("DELETE", path)


@pytest.fixture
def http(devmail) -> Http:
    return Http(devmail.http_url)


@pytest.fixture
def http_client():
    """Makes an Http client for a devmail started by the test itself."""
    return Http


class Mailer:
    def __init__(self, devmail: DevMail) -> None:
        self.devmail = devmail

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.devmail.smtp_ip, self.devmail.smtp_port, timeout=5)

    def send(self, message: EmailMessage, **kwargs) -> None:
        with self.smtp() as client:
            client.send_message(message, **kwargs)

    def sendmail(self, sender: str, recipients: list[str], raw, **kwargs) -> None:
        with self.smtp() as client:
            client.sendmail(sender, recipients, raw, **kwargs)


@pytest.fixture
def mailer(devmail) -> Mailer:
    return Mailer(devmail)


def make_message(subject: str = "Hello", body: str = "Hi there.\n") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "sender@example.com"
    message["To"] = "rcpt@example.com"
    message["Subject"] = subject
    message.set_content(body)
    return message


@pytest.fixture(name="make_message")
def make_message_fixture():
    return make_message


@pytest.fixture
def max_size() -> int:
    return TEST_MAX_SIZE
