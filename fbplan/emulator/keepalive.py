"""HTTP/1.1 keep-alive for the emulator's backend server.

werkzeug's development server answers every request with ``Connection: close``, so a client
pays a new connection, and the server a new thread, for each request: at a few hundred
requests a second (an apply of a thousand resources, 16 at a time) that is much of the
emulator's time. `KeepAliveServer` keeps a connection open for the client's next request,
within bounds:

- a connection waits at most `IDLE_TIMEOUT` seconds for its next request (and for any one
  read or write of a request), then it is closed; fbplan's client gives up an idle
  connection after 5 s, before the server does;
- at most `MAX_KEPT` connections are open at once to be kept: past that, an answer says
  ``Connection: close`` as werkzeug's does, and the connection closes after it;
- a request body the application left unread is read and dropped before the next request,
  up to `MAX_DRAIN` bytes; a larger one, or a chunked one, closes the connection after the
  answer (werkzeug's own handling);
- `server_close()` (the emulator's stop) wakes every open connection, so idle ones close at
  once and busy ones after their answer: a stopped emulator answers nothing more.

werkzeug's handler does the rest (the WSGI environ, the answer, errors, dropped
connections), unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

IDLE_TIMEOUT = 15.0  # seconds
MAX_KEPT = 128
MAX_DRAIN = 1024 * 1024  # bytes of an unread request body read to keep the connection


class _Body:
    """The request body as the application reads it: at most Content-Length bytes of the
    connection, so reading it to the end never reads into the client's next request.
    werkzeug's handler reads it to the end after the answer (its drain of unread bytes)."""

    def __init__(self, raw: Any, length: int) -> None:
        self._raw = raw
        self.remaining = length

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._raw.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(self._raw.readline, size)

    def _take(self, reader: Callable[[int], bytes], size: int | None) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = reader(size) if size else b""
        self.remaining -= len(data)
        return data


class KeepAliveHandler(WSGIRequestHandler):
    """werkzeug's handler, without its ``Connection: close`` where the request allows."""

    protocol_version = "HTTP/1.1"
    server: KeepAliveServer
    _body: _Body | None = None

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(IDLE_TIMEOUT)  # read here, so a test may lower it
        # The answer's head and body go out in two writes: with Nagle's algorithm the
        # second waits for the client's delayed ACK of the first (40 ms) on a kept connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.opened(self.connection)

    def finish(self) -> None:
        self.server.closed(self.connection)
        super().finish()

    def log(self, type: str, message: str, *args: Any) -> None:
        return None  # no log line per request

    def run_wsgi(self) -> None:
        length = self._body_length()
        if length is None or self.close_connection or self.server.crowded():
            self._body = None
            super().run_wsgi()  # werkzeug's way: the answer closes the connection
            return
        raw, self._body = self.rfile, _Body(self.rfile, length)
        self.rfile = self._body  # type: ignore[assignment]
        try:
            super().run_wsgi()
        finally:
            self.rfile = raw
        body, self._body = self._body, None
        if body.remaining and not self.close_connection:
            with contextlib.suppress(OSError):  # a timeout: the client stopped sending
                body.read()  # at most MAX_DRAIN bytes, or the answer said close
        if body.remaining:  # the rest of the body never came: the framing is lost
            self.close_connection = True

    def send_header(self, keyword: str, value: str) -> None:
        keep = self._body is not None and self._body.remaining <= MAX_DRAIN
        if keep and keyword.lower() == "connection" and value.lower() == "close":
            return  # HTTP/1.1: without the header, the connection stays open
        super().send_header(keyword, value)

    def _body_length(self) -> int | None:
        """The body's length by Content-Length (0 without one); None when it cannot be
        known that way (chunked, or a malformed header)."""
        if "Transfer-Encoding" in self.headers:
            return None
        declared = self.headers.get("Content-Length", "0").strip()
        return int(declared) if declared.isdigit() else None


class KeepAliveServer(ThreadedWSGIServer):
    """werkzeug's threaded server with `KeepAliveHandler`, counting its open connections."""

    def __init__(self, host: str, port: int, app: Any, fd: int | None = None) -> None:
        self._open: set[socket.socket] = set()  # before werkzeug's set-up calls server_close
        self._open_lock = threading.Lock()
        super().__init__(host, port, app, handler=KeepAliveHandler, fd=fd)

    def opened(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def crowded(self) -> bool:
        with self._open_lock:
            return len(self._open) > MAX_KEPT

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)  # wakes a wait for the next request
