"""gunicorn's sync worker, answering the requests already queued at the dyno when told to stop (SIGTERM:
https://devcenter.heroku.com/articles/dyno-shutdown-behavior; docs/guarantees.md). Sync workers reset them and
the router answers H13 (upstream: https://github.com/benoitc/gunicorn/issues/3397 and #2529). This one takes
every waiting connection and closes its copy of the socket, then answers them."""

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
        taken = []  # from every listening socket, all closed before the first is answered
        for listener in self.sockets:
            closed = ClosedListener(listener.getsockname())
            waiting = _accept_all(listener)
            time.sleep(HANDSHAKE_GRACE_SECONDS)
            waiting += _accept_all(listener)
            listener.close()
            taken += [(closed, client, address) for client, address in waiting]
        for listener, client, address in taken:
            self.handle(listener, client, address)


class ClosedListener:
    """A closed listening socket: gunicorn asks it only for its address (should it ask for more, the
    drained requests fail with 500s, which tests/test_deploy_under_load.py reports)."""

    def __init__(self, address) -> None:
        self.address = address

    def getsockname(self):
        return self.address


def _accept_all(listener) -> list:
    connections = []
    while True:
        try:
            # Non-blocking (gunicorn sets it so): an empty queue raises instead of waiting.
            client, address = listener.accept()
        except OSError:
            return connections
        client.setblocking(True)
        util.close_on_exec(client)
        connections.append((client, address))
