"""Starting and stopping DevMail in-process."""

from __future__ import annotations

import smtplib
import socket

import pytest

from devmail import DevMail, Ports


def test_start_returns_the_real_ports_and_stop_frees_them():
    devmail = DevMail(smtp_port=0, http_port=0)
    ports = devmail.start()
    try:
        assert isinstance(ports, Ports)
        assert ports == (devmail.smtp_port, devmail.http_port)
        assert 0 not in ports
        assert devmail.describe() == (f"devmail: SMTP on 127.0.0.1:{ports.smtp}, web on http://127.0.0.1:{ports.http}")
        with pytest.raises(RuntimeError):
            devmail.start()
    finally:
        devmail.stop()
    devmail.stop()  # stopping twice is harmless

    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_can_restart_after_stop(http_client):
    devmail = DevMail(smtp_port=0, http_port=0)
    with devmail, smtplib.SMTP("127.0.0.1", devmail.smtp_port, timeout=5) as client:
        client.sendmail("a@x.org", ["b@x.org"], "Subject: kept\r\n\r\n")
    with devmail:
        # The store belongs to the DevMail object, so mail survives a restart.
        messages = http_client(devmail.http_url).get("/messages").json()
        assert [m["subject"] for m in messages] == ["kept"]


@pytest.mark.parametrize("busy", ["smtp", "http"])
def test_busy_port_raises_and_leaves_nothing_running(busy):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        devmail = DevMail(
            smtp_port=port if busy == "smtp" else 0,
            http_port=port if busy == "http" else 0,
        )
        with pytest.raises(OSError):
            devmail.start()
        assert not devmail.running
