"""The client keeps its connections open: on a real network every new connection is a
round trip of its own (two or more with TLS) before the request can even be sent.

The server here speaks HTTP/1.1 with keep-alive, as the Flashback backend does, and counts
the connections it accepts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fbplan.backend import BackendClient

BODY = json.dumps(
    {"success": True, "workspaces": [{"id": "ws-1", "name": "acme", "orgId": "o", "users": []}]}
).encode()


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        with _KeepAlive.lock:
            _KeepAlive.connections += 1

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def keep_alive_server() -> Iterator[tuple[str, type[_KeepAlive]]]:
    _KeepAlive.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _KeepAlive
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_requests_one_after_another_share_one_connection() -> None:
    with keep_alive_server() as (url, handler), BackendClient(url, "token") as client:
        for _ in range(20):
            assert client.get("/workspace")["workspaces"][0]["id"] == "ws-1"
        assert client.request_count == 20
        assert handler.connections == 1


def test_parallel_reads_open_no_more_connections_than_run_at_once() -> None:
    workers = 8
    with keep_alive_server() as (url, handler), BackendClient(url, "token") as client:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda _: client.get("/workspace"), range(10 * workers)))
        assert client.request_count == 10 * workers
        assert 1 <= handler.connections <= workers
