"""The tests flush the Redis database at TEST_REDIS_URL before each test that uses it. A fork's CI pointed at
a shared or production Redis (app.json's test script passes ``$REDIS_URL``) would lose its data, so only a Redis
on this machine is flushed: a loopback address, or one of this machine's own (Heroku CI's in-dyno Redis runs on
the test dyno: https://devcenter.heroku.com/articles/heroku-ci-in-dyno-databases). Anything else needs
TEST_REDIS_ALLOW_FLUSH=1."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import pytest

ALLOW = "TEST_REDIS_ALLOW_FLUSH"


def is_this_machine(host: str) -> bool:
    """Every address ``host`` resolves to is loopback or one this machine can bind (its own)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return False
    return bool(addresses) and all(_is_own(address) for address in addresses)


def _is_own(address: str) -> bool:
    if ipaddress.ip_address(address.partition("%")[0]).is_loopback:
        return True
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        try:
            probe.bind((address, 0))  # only an address of this machine's interfaces can be bound
        except OSError:
            return False
    return True


def refuse_to_flush_elsewhere(url: str, environ: Mapping[str, str] = os.environ) -> None:
    """Fail the tests that would flush ``url`` unless it is on this machine or ALLOW is 1."""
    if environ.get(ALLOW, "").strip() == "1":
        return
    parts = urlsplit(url)
    if parts.scheme == "unix" or (parts.hostname and is_this_machine(parts.hostname)):
        return
    where = f"{parts.hostname}:{parts.port or 6379}"  # not the URL: it may hold a password
    pytest.fail(
        f"TEST_REDIS_URL points at {where}, which is not on this machine, and the tests flush (FLUSHDB) that database "
        f"before each test: all its data would be lost. Point TEST_REDIS_URL at a Redis on this machine (or unset it: "
        f"the tests start their own), or set {ALLOW}=1 if that database may be emptied.",
        pytrace=False,
    )
