"""Runs a stand-in HTTP server (SendGrid's, Sentry's) on a free loopback port."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    # http.server's listen backlog is 5; load tests and benchmarks open
    # dozens of connections at once.
    request_queue_size = 256


def start_http_server(handler: type[BaseHTTPRequestHandler]) -> StandInServer:
    server = StandInServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_http_server(server: StandInServer) -> None:
    server.shutdown()
    server.server_close()
