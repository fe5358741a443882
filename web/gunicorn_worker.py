"""gunicorn's sync worker, answering the requests already queued at the dyno
when it is told to stop (gunicorn.conf.py's ``worker_class``).

On every deploy and restart Heroku sends SIGTERM to every process of the web
dyno (https://devcenter.heroku.com/articles/dyno-shutdown-behavior). gunicorn's
sync workers then finish the request in hand and exit. Connections the
kernel has already accepted on the listening socket, but no worker has taken
yet, are reset when the last copy of that socket closes: Heroku's router had
handed those requests over, and answers the user with an error (H13). Under
load that is most of the requests in flight: with the plain sync worker,
tests/test_deploy_under_load.py sees 14 to 16 of its 16 clients' requests
cut at each deploy. gunicorn has the issue open
(https://github.com/benoitc/gunicorn/issues/3397, and #2529).

This worker, once gunicorn's loop has stopped, takes every connection waiting
on the socket, closes its copy of the socket, then answers them. Whichever
worker closes last leaves the socket closed, and new connections are refused,
which a router retries on another dyno instead of reporting an error.
"""

from __future__ import annotations

import time

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

# Before the last pass over the socket: lets a connection whose handshake was
# under way when the first pass ended arrive (well under 1 ms on one host).
HANDSHAKE_GRACE_SECONDS = 0.01


class DrainingSyncWorker(SyncWorker):
    def run(self) -> None:
        # Returns once the worker is to stop (SIGTERM), after the request in hand.
        super().run()
        for listener, client, address in self.take_waiting_connections():
            self.handle(listener, client, address)

    def take_waiting_connections(self) -> list:
        """Accept every connection queued on the listening sockets, then close
        this process's copy of them."""
        taken = []
        for listener in self.sockets:
            closed = ClosedListener(listener.getsockname())
            waiting = _accept_all(listener)
            time.sleep(HANDSHAKE_GRACE_SECONDS)
            waiting += _accept_all(listener)
            listener.close()
            taken += [(closed, client, address) for client, address in waiting]
        return taken


class ClosedListener:
    """Stands in for a listening socket this process has closed: answering a
    request, gunicorn asks the listener only for its address (SERVER_NAME and
    SERVER_PORT in the WSGI environ). Should it ever ask for more, the
    requests drained at shutdown fail with 500s, which
    tests/test_deploy_under_load.py would report."""

    def __init__(self, address) -> None:
        self.address = address

    def getsockname(self):
        return self.address


def _accept_all(listener) -> list:
    connections = []
    while True:
        try:
            # The listening socket is non-blocking (gunicorn sets it so in
            # each worker): an empty queue raises instead of waiting.
            client, address = listener.accept()
        except OSError:
            return connections
        client.setblocking(True)
        util.close_on_exec(client)
        connections.append((client, address))
