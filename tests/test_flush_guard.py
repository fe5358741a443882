"""The suite flushes the Redis at TEST_REDIS_URL; it refuses one that is not on this machine unless told
(tests/support/flush_guard.py). 192.0.2.0/24 is TEST-NET-1: never anyone's address, never contacted."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.flush_guard import refuse_to_flush_elsewhere
from tests.support.processes import PROJECT_ROOT

ELSEWHERE = "redis://:hunter2-password@192.0.2.10:6380/0"


def own_non_loopback_address() -> str:
    """The address this machine would send from (a UDP "connect" sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("no network interface besides loopback")
        return probe.getsockname()[0]


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379",  # Heroku CI's in-dyno Redis, as the simulation gives it
        "redis://127.0.0.1:6380/0",  # GitHub Actions' service container, mapped to the host
        "rediss://:pw@[::1]:6380",
        "unix:///tmp/redis.sock",
    ],
)
def test_a_redis_on_this_machine_may_be_flushed(url):
    refuse_to_flush_elsewhere(url, environ={})


def test_this_machine_s_own_address_and_name_count_as_this_machine():
    refuse_to_flush_elsewhere(f"redis://{own_non_loopback_address()}:6379", environ={})
    refuse_to_flush_elsewhere(f"redis://{socket.gethostname()}:6379", environ={})


@pytest.mark.parametrize("url", [ELSEWHERE, "rediss://:pw@redis-12345.cloud.example.invalid:6380"])
def test_any_other_redis_is_refused_saying_why_and_how_to_allow_it(url):
    with pytest.raises(pytest.fail.Exception) as refused:
        refuse_to_flush_elsewhere(url, environ={"TEST_REDIS_ALLOW_FLUSH": "yes"})  # only 1 says so
    message = str(refused.value)
    assert "not on this machine" in message and "flush" in message and "TEST_REDIS_ALLOW_FLUSH=1" in message
    assert "pw" not in message and "hunter2" not in message
    refuse_to_flush_elsewhere(url, environ={"TEST_REDIS_ALLOW_FLUSH": "1"})


@pytest.mark.slow
def test_the_suite_refuses_before_touching_it():
    """A test that uses Redis, run as `make test` would with TEST_REDIS_URL elsewhere: it fails with the
    reason, without connecting (it would wait 2 s for 192.0.2.10 and fail without saying why)."""
    test = "tests/test_job_status.py::test_a_final_status_is_marked_for_the_page_script"
    env = {"PATH": "/usr/bin:/bin", "TEST_REDIS_URL": ELSEWHERE, "PYTHONPATH": str(PROJECT_ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "192.0.2.10:6380, which is not on this machine" in run.stdout and "TEST_REDIS_ALLOW_FLUSH=1" in run.stdout, run.stdout
    assert "hunter2" not in run.stdout
