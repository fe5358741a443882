"""web/gunicorn_worker.py works around a gunicorn bug; this is the test for its fix.

gunicorn's sync workers, told to stop, finish the request in hand and exit;
connections the kernel had already accepted on the listening socket, with
their requests waiting, are reset when the last copy of the socket closes
(https://github.com/benoitc/gunicorn/issues/3397). Heroku's router answers
those users with H13 on every deploy. DrainingSyncWorker answers them first.

The queue is built deterministically: the only worker process is stopped
(SIGSTOP) while the requests arrive, then the whole dyno gets SIGTERM, as
Heroku sends it, and the worker resumes.

When ``test_stock_sync_workers_still_reset_queued_requests`` passes (XPASS;
``make upstream-check`` says "can go"), gunicorn has fixed the bug: delete
web/gunicorn_worker.py, set ``worker_class = "sync"`` in gunicorn.conf.py,
and delete this file.
"""

from __future__ import annotations

import os
import signal
import socket

import pytest

from tests.support.processes import descendant_pids, environment_for, free_port, port_is_open, wait_for
from tests.support.procfile import start_process_type
from tests.support.upstream import UpstreamBugStillThere

pytestmark = pytest.mark.slow

QUEUED_REQUESTS = 4


def answer_of(client: socket.socket) -> str:
    """The status line the server sent on ``client``, or how the connection ended without one."""
    data = b""
    try:
        while chunk := client.recv(65536):
            data += chunk
    except ConnectionResetError:
        return "reset" if not data else data.split(b"\r\n", 1)[0].decode()
    except TimeoutError:
        return "timeout"
    return data.split(b"\r\n", 1)[0].decode() if data else "closed without an answer"


def deploy_with_requests_queued(worker_class_args: str, settings_with, redis_conn, tmp_path) -> list[str]:
    port = free_port()
    env = environment_for(settings_with(), PORT=str(port), WEB_CONCURRENCY="1", GUNICORN_CMD_ARGS=worker_class_args)
    web = start_process_type("web", env, tmp_path / "web.log")
    clients: list[socket.socket] = []
    try:
        wait_for(lambda: port_is_open(port), timeout=30, what="gunicorn")
        [worker] = wait_for(lambda: descendant_pids(web.pid), timeout=30, what="gunicorn's worker")
        os.kill(worker, signal.SIGSTOP)
        for _ in range(QUEUED_REQUESTS):
            # The kernel completes the handshake and keeps the request in the
            # socket's queue: accepted, as far as the router can tell.
            client = socket.create_connection(("127.0.0.1", port), timeout=15)
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: fibtastic.test\r\nConnection: close\r\n\r\n")
            clients.append(client)
        os.killpg(web.pid, signal.SIGTERM)  # every process of the dyno, as Heroku does
        os.kill(worker, signal.SIGCONT)
        answers = [answer_of(client) for client in clients]
        assert web.wait(30) == 0, web.output()
        return answers
    finally:
        for client in clients:
            client.close()
        web.stop()


@pytest.mark.upstream_bug(
    "https://github.com/benoitc/gunicorn/issues/3397", workaround='web/gunicorn_worker.py (then worker_class = "sync" in gunicorn.conf.py)'
)
def test_stock_sync_workers_still_reset_queued_requests(settings_with, redis_conn, tmp_path):
    answers = deploy_with_requests_queued("--worker-class sync", settings_with, redis_conn, tmp_path)
    if any(not answer.startswith("HTTP/1.1") for answer in answers):
        raise UpstreamBugStillThere(f"gunicorn's own sync worker left queued requests unanswered at SIGTERM: {answers}")


def test_the_draining_worker_answers_every_queued_request(settings_with, redis_conn, tmp_path):
    # gunicorn.conf.py's own worker_class (GUNICORN_CMD_ARGS empty).
    answers = deploy_with_requests_queued("", settings_with, redis_conn, tmp_path)
    assert answers == ["HTTP/1.1 200 OK"] * QUEUED_REQUESTS
