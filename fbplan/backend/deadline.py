"""A total deadline for each request, down to the socket: headers included.

httpx bounds each phase of a request (connect, each write, each read) but not the whole of
it, so a server that drips its answer one byte at a time never trips a timeout. The client
checks its deadline between body chunks; this module covers what comes before the body
(connecting, sending, the status line and headers): every socket operation of a request
waits at most until that request's deadline, set per thread by `until`.

httpx gives no public way to choose httpcore's network backend, so `transport` builds the
connection pool itself with httpcore's public `ConnectionPool(network_backend=...)` and
hands it to an `httpx.HTTPTransport`. Should a future httpx lay its transport out
differently, `transport` returns the plain one: the body deadline still holds.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_local = threading.local()


@contextmanager
def until(moment: float) -> Iterator[None]:
    """Every socket operation in this thread waits at most until `moment` (monotonic)."""
    previous = getattr(_local, "until", None)
    _local.until = moment
    try:
        yield
    finally:
        _local.until = previous


def _bounded(timeout: float | None) -> float | None:
    moment: float | None = getattr(_local, "until", None)
    if moment is None:
        return timeout
    left = moment - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _Stream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(limits: httpx.Limits, *, tls: bool = True) -> httpx.HTTPTransport:
    """An HTTP transport whose sockets honour the per-thread deadline of `until`.

    Its TLS context (loading the CA certificates costs some 40 ms) is made once, and only
    for a backend reached over TLS (`tls`); otherwise the context holds no certificate, so
    that a TLS connection, were one ever asked for, would fail verification, never pass.
    """
    context = httpx.create_ssl_context() if tls else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain = httpx.HTTPTransport(limits=limits, verify=context)
    if not isinstance(getattr(plain, "_pool", None), httpcore.ConnectionPool):
        return plain
    plain._pool = httpcore.ConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Backend(),
    )
    return plain
