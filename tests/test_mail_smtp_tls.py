"""SMTP credentials never cross a network in clear text.

Real aiosmtpd servers listen on this machine's own non-loopback address, so
the mailer sees them as it would a provider across the internet. They accept
AUTH without TLS (``auth_require_tls=False``): a careless server, or a
man in the middle who stripped STARTTLS from the EHLO reply, would take the
password, so only the mailer can refuse to send it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field

import psutil
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from jobs.core.mail import PermanentMailError, TransientMailError
from jobs.core.mail.smtp import SmtpMailer, is_loopback
from jobs.email_content import fibonacci_email
from tests.support.processes import free_port
from tests.support.redis_server import write_self_signed_certificate


def non_loopback_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not is_loopback(address.address):
                return address.address
    return None


@pytest.fixture(scope="module")
def network_address() -> str:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to listen on")
    return address


@pytest.fixture(scope="module")
def certificate(network_address, tmp_path_factory):
    """A self-signed certificate for the network address, and a client
    context that trusts it (and nothing else)."""
    cert, key = write_self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"), addresses=(network_address,))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    return server_context, ssl.create_default_context(cafile=str(cert))


@dataclass
class Login:
    over_tls: bool
    user: str
    password: str


@dataclass
class RecordingServer:
    """What the server saw: every AUTH attempt, and every message."""

    logins: list[Login] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        with self.lock:
            self.logins.append(Login(over_tls, auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@pytest.fixture
def start_server():
    """``start_server(host, **aiosmtpd options)`` -> (recorder, port)."""
    controllers = []

    def start(host: str, **options) -> tuple[RecordingServer, int]:
        recorder = RecordingServer()
        controller = Controller(
            recorder,
            hostname=host,
            port=free_port(),
            authenticator=recorder.authenticate,
            auth_require_tls=False,
            **options,
        )
        controller.start()
        controllers.append(controller)
        return recorder, controller.port

    yield start
    for controller in controllers:
        controller.stop()


def email_to(recipient: str):
    return fibonacci_email("from@example.com", recipient, 5)


def test_credentials_are_not_sent_to_a_server_without_starttls(start_server, network_address):
    server, port = start_server(network_address)
    mailer = SmtpMailer(f"smtp://apikey:s3cret@{network_address}:{port}")
    with pytest.raises(PermanentMailError, match="does not offer STARTTLS, so the SMTP_URL credentials were not sent"):
        mailer.send(email_to("to@example.com"))
    assert server.logins == []
    assert server.recipients == []


def test_credentials_go_only_after_starttls(start_server, network_address, certificate):
    server_context, trusting_client = certificate
    server, port = start_server(network_address, tls_context=server_context)
    mailer = SmtpMailer(f"smtp://apikey:s3cret@{network_address}:{port}", tls_context=trusting_client)
    mailer.send(email_to("to@example.com"))
    mailer.close()
    assert server.logins == [Login(over_tls=True, user="apikey", password="s3cret")]
    assert server.recipients == [["to@example.com"]]


def test_a_certificate_that_does_not_check_out_gets_no_credentials(start_server, network_address, certificate):
    server_context, _ = certificate
    server, port = start_server(network_address, tls_context=server_context)
    # The system's certificate authorities never signed the test certificate.
    mailer = SmtpMailer(f"smtp://apikey:s3cret@{network_address}:{port}")
    with pytest.raises(TransientMailError, match="CERTIFICATE_VERIFY_FAILED"):
        mailer.send(email_to("to@example.com"))
    assert server.logins == []
    assert server.recipients == []


def test_smtps_sends_credentials_over_tls_from_the_start(start_server, network_address, certificate):
    server_context, trusting_client = certificate
    server, port = start_server(network_address, ssl_context=server_context)
    mailer = SmtpMailer(f"smtps://apikey:s3cret@{network_address}:{port}", tls_context=trusting_client)
    mailer.send(email_to("to@example.com"))
    mailer.close()
    assert server.logins == [Login(over_tls=True, user="apikey", password="s3cret")]
    assert server.recipients == [["to@example.com"]]


def test_without_credentials_a_server_without_starttls_still_gets_mail(start_server, network_address):
    # Nothing secret to protect: STARTTLS stays opportunistic, as before.
    server, port = start_server(network_address)
    SmtpMailer(f"smtp://{network_address}:{port}").send(email_to("to@example.com"))
    assert server.logins == []
    assert server.recipients == [["to@example.com"]]


def test_a_loopback_server_may_take_credentials_without_tls(start_server):
    # The development mail sink: nothing leaves the machine.
    server, port = start_server("127.0.0.1")
    mailer = SmtpMailer(f"smtp://dev:dev@127.0.0.1:{port}")
    mailer.send(email_to("to@example.com"))
    mailer.close()
    assert server.logins == [Login(over_tls=False, user="dev", password="dev")]
    assert server.recipients == [["to@example.com"]]


@pytest.mark.parametrize("host", ["localhost", "LocalHost.", "127.0.0.1", "127.3.2.1", "::1"])
def test_loopback_hosts(host):
    assert is_loopback(host)


# Only names that cannot mean another machine: DNS could send these anywhere.
@pytest.mark.parametrize("host", ["192.0.2.2", "10.0.0.1", "smtp.example.com", "localhost.example.com", "fd00::2", "::"])
def test_hosts_that_are_not_loopback(host):
    assert not is_loopback(host)
