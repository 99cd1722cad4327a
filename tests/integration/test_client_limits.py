"""Every request is bounded: a total deadline and a size cap on the answer (issue 10, point 6).

A hostile or broken backend is a tiny local HTTP server here: one that drips its answer a
byte at a time (which never trips a per-read timeout), one that sends more than the cap
with or without announcing it. The assertions are about what the user sees (the error
sentence, the exit code) and what the client did (it stopped reading), never about time.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import respx

from fbplan.backend import BackendClient
from fbplan.backend.client import request_limits
from fbplan.errors import ApiError, ConfigError, TransportError

TOKEN = "limits-token-value"


@dataclass
class Sent:
    """What the server managed to send before the client hung up."""

    bytes: int = 0
    finished: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@contextmanager
def serve(answer: Callable[[socket.socket, Sent], None]) -> Iterator[tuple[str, Sent]]:
    """A one-connection-at-a-time HTTP server on a free port, answering with `answer`."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent = Sent()
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)  # the request (small: headers only)
                try:
                    answer(conn, sent)
                    sent.finished = True
                except OSError:
                    pass  # the client hung up: what the tests expect
                sent.done.set()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", sent
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def drip(total: int, pause: float = 0.05) -> Callable[[socket.socket, Sent], None]:
    """Headers at once, then a JSON body of `total` bytes one byte per `pause`."""
    frame = json.dumps({"success": True, "workspaces": [], "pad": ""})
    pad = "x" * max(total - len(frame), 0)
    body = json.dumps({"success": True, "workspaces": [], "pad": pad}).encode()

    def answer(conn: socket.socket, sent: Sent) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        for byte in body:
            conn.sendall(bytes([byte]))
            sent.bytes += 1
            time.sleep(pause)

    return answer


def chunked(size: int) -> Callable[[socket.socket, Sent], None]:
    """A chunked answer of `size` bytes with no Content-Length (the cap must still hold)."""

    def answer(conn: socket.socket, sent: Sent) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"x" * 4096
        while sent.bytes < size:
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent.bytes += len(piece)
        conn.sendall(b"0\r\n\r\n")

    return answer


def test_a_dripping_answer_is_cut_at_the_deadline() -> None:
    with serve(drip(10_000)) as (url, sent), BackendClient(url, TOKEN, deadline=0.5) as client:
        with pytest.raises(TransportError) as caught:
            client.get("/workspace")
        sent.done.wait(10)
    assert str(caught.value) == (
        f"GET /workspace got no response from {url} (FB_BACKEND_URL): the answer did not "
        "arrive in full within the 0.5 s deadline (FB_REQUEST_DEADLINE)."
    )
    assert not sent.finished and sent.bytes < 10_000  # the client stopped reading
    assert not caught.value.ambiguous


def test_a_dripping_answer_to_a_create_is_ambiguous_and_not_retried() -> None:
    with serve(drip(10_000)) as (url, sent), BackendClient(url, TOKEN, deadline=0.3) as client:
        with pytest.raises(TransportError) as caught:
            client.post("/workspace", {"name": "w"})
        sent.done.wait(10)
    assert caught.value.ambiguous  # the create may have been carried out: re-read by name
    assert client.request_count == 1


def test_an_answer_within_the_deadline_and_cap_is_read() -> None:
    with serve(drip(40, pause=0)) as (url, _), BackendClient(url, TOKEN, deadline=30) as client:
        assert client.get("/workspace")["success"] is True


def test_an_endless_unannounced_answer_is_cut_at_the_size_cap() -> None:
    limit = 100_000
    with (
        serve(chunked(50 * 1024 * 1024)) as (url, sent),
        BackendClient(url, TOKEN, max_response_bytes=limit) as client,
    ):
        with pytest.raises(ApiError) as caught:
            client.get("/bucket")
        sent.done.wait(10)
    assert str(caught.value) == (
        "GET /bucket failed with HTTP 200 (the answer is larger than the 100,000-byte limit "
        "(FB_RESPONSE_MAX_BYTES))."
    )
    assert not sent.finished  # 50 MB were never read


@respx.mock(base_url="https://backend.test", assert_all_called=True)
def test_an_announced_large_answer_is_refused_before_reading(respx_mock: respx.Router) -> None:
    respx_mock.get("/repo").respond(200, json={"success": True, "repos": ["r" * 2000]})
    with BackendClient("https://backend.test", TOKEN, max_response_bytes=1000) as client:
        with pytest.raises(ApiError, match="larger than the 1,000-byte limit"):
            client.get("/repo")
        assert client.request_count == 1  # not retried


@respx.mock(base_url="https://backend.test")
def test_a_compressed_answer_is_capped_by_its_decoded_size(respx_mock: respx.Router) -> None:
    bomb = gzip.compress(b'{"success": true, "pad": "' + b"0" * 1_000_000 + b'"}')
    assert len(bomb) < 5_000
    respx_mock.get("/apikeys").respond(
        200, content=bomb, headers={"content-encoding": "gzip", "content-type": "application/json"}
    )
    client = BackendClient("https://backend.test", TOKEN, max_response_bytes=50_000)
    with client, pytest.raises(ApiError, match="larger than the 50,000-byte limit"):
        client.get("/apikeys")


@respx.mock(base_url="https://backend.test")
def test_a_compressed_answer_within_the_cap_is_decoded(respx_mock: respx.Router) -> None:
    body = gzip.compress(json.dumps({"success": True, "apiKeys": []}).encode())
    respx_mock.get("/apikeys").respond(
        200, content=body, headers={"content-encoding": "gzip", "content-type": "application/json"}
    )
    with BackendClient("https://backend.test", TOKEN) as client:
        assert client.get("/apikeys") == {"success": True, "apiKeys": []}


def test_limits_come_from_the_environment() -> None:
    env = {"FB_REQUEST_DEADLINE": "12.5", "FB_RESPONSE_MAX_BYTES": "2048"}
    assert request_limits(env) == {"deadline": 12.5, "max_response_bytes": 2048}
    assert request_limits({}) == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FB_REQUEST_DEADLINE", "soon"),
        ("FB_REQUEST_DEADLINE", "0"),
        ("FB_REQUEST_DEADLINE", "inf"),
        ("FB_RESPONSE_MAX_BYTES", "-5"),
        ("FB_RESPONSE_MAX_BYTES", "1.5"),
    ],
)
def test_a_bad_limit_is_a_config_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BackendClient.from_env({"FB_JWT": TOKEN, name: value})
    assert str(caught.value) == f"{name} must be a positive number, got {value!r}."


def test_the_cli_reports_a_dripping_backend_with_one_sentence(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fbplan.cli.main import cli

    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nworkspace: drip\n")
    with serve(drip(10_000)) as (url, sent):
        env = {"FB_BACKEND_URL": url, "FB_JWT": TOKEN, "FB_REQUEST_DEADLINE": "0.3"}
        result = CliRunner().invoke(cli, ["plan", str(spec)], env=env)
        sent.done.wait(10)
    assert result.exit_code == 1
    assert "within the 0.3 s deadline (FB_REQUEST_DEADLINE)" in result.output
    assert "Traceback" not in result.output


def test_the_transport_is_bounded_even_when_injected() -> None:
    """An injected transport (the WSGI emulator in tests) goes through the same cap."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"success": true, "x": "' + b"y" * 5000 + b'"}']

    transport = httpx.WSGITransport(app=app)
    with (
        BackendClient(
            "http://wsgi.test", TOKEN, transport=transport, max_response_bytes=1000
        ) as client,
        pytest.raises(ApiError, match="1,000-byte limit"),
    ):
        client.get("/workspace")


def drip_headers(pause: float = 0.05) -> Callable[[socket.socket, Sent], None]:
    """A status line and headers that never end, one byte per `pause`: no read timeout
    trips, and no body ever starts."""

    def answer(conn: socket.socket, sent: Sent) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100_000):
            conn.sendall(b"X")
            sent.bytes += 1
            time.sleep(pause)

    return answer


def test_headers_that_drip_are_cut_at_the_deadline_too() -> None:
    with (
        serve(drip_headers()) as (url, sent),
        BackendClient(url, TOKEN, deadline=0.5) as client,
    ):
        with pytest.raises(TransportError) as caught:
            client.get("/workspace")
        sent.done.wait(10)
    assert str(caught.value) == (
        f"GET /workspace got no response from {url} (FB_BACKEND_URL): the answer did not "
        "arrive in full within the 0.5 s deadline (FB_REQUEST_DEADLINE)."
    )
    assert not sent.finished  # the client hung up long before the server gave up
    assert client.request_count == 1  # a broken deadline is not retried
