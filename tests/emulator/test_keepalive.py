"""The backend server keeps HTTP/1.1 connections open between requests, within bounds."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fbplan.emulator import keepalive
from fbplan.emulator.server import RunningEmulator, start_emulator

TOKEN = "keepalive-test-token"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    with start_emulator(tmp_path / "e.db", TOKEN) as running:
        yield running


def connect(emulator: RunningEmulator) -> socket.socket:
    url = httpx.URL(emulator.backend_url)
    return socket.create_connection((url.host, url.port), timeout=5)


def send(sock: socket.socket, method: str, path: str, body: object = None, **headers: str) -> None:
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: emulator", f"Authorization: Bearer {TOKEN}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if payload:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)


def answer(sock: socket.socket) -> tuple[int, dict[str, str], object]:
    """One answer read off the connection: status, headers (lower-case names), JSON body."""
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline().strip()) != b"":
        name, _, value = line.decode().partition(":")
        headers[name.lower()] = value.strip()
    body = reader.read(int(headers["content-length"]))
    reader.close()  # the socket stays open
    return status, headers, json.loads(body)


def closed(sock: socket.socket) -> bool:
    """The server closed the connection (the socket's own timeout bounds the wait)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_several_requests_are_answered_on_one_connection(emulator: RunningEmulator):
    with connect(emulator) as sock:
        send(sock, "POST", "/workspace", {"name": "kept"})
        status, headers, body = answer(sock)
        assert status == 201 and "connection" not in headers
        send(sock, "GET", "/workspace")
        status, _, body = answer(sock)
        assert status == 200
        assert [w["name"] for w in body["workspaces"]] == ["kept"]  # type: ignore[index]


def test_a_body_the_backend_did_not_read_does_not_spill_into_the_next_request(
    emulator: RunningEmulator,
):
    with connect(emulator) as sock:
        # refused before the body is read: no such route, then a bad token
        send(sock, "POST", "/no/such/route", {"name": "x" * 5000})
        assert answer(sock)[0] == 404
        sock.sendall(b"POST /workspace HTTP/1.1\r\nHost: e\r\nContent-Length: 13\r\n\r\n")
        sock.sendall(b'{"name":"n"}\n')
        assert answer(sock)[0] == 401
        send(sock, "GET", "/health")
        status, _, body = answer(sock)
        assert status == 200 and body["status"] == "healthy"  # type: ignore[index]


def test_the_client_may_ask_to_close(emulator: RunningEmulator):
    with connect(emulator) as sock:
        send(sock, "GET", "/health", Connection="close")
        status, headers, _ = answer(sock)
        assert status == 200 and headers["connection"] == "close"
        assert closed(sock)


def test_an_idle_connection_is_closed(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(keepalive, "IDLE_TIMEOUT", 0.2)
    with connect(emulator) as sock:
        send(sock, "GET", "/health")
        assert answer(sock)[0] == 200
        assert closed(sock)  # nothing sent for longer than the idle timeout


def test_past_the_bound_answers_close_their_connection(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(keepalive, "MAX_KEPT", 1)
    with connect(emulator) as first:
        send(first, "GET", "/health")
        assert "connection" not in answer(first)[1]
        second = connect(emulator)
        send(second, "GET", "/health")
        status, headers, _ = answer(second)
        assert status == 200 and headers["connection"] == "close"
        assert closed(second)
        second.close()
        send(first, "GET", "/health")  # the kept one still answers
        assert answer(first)[0] == 200


def test_stopping_the_emulator_closes_open_connections(tmp_path: Path):
    emulator = start_emulator(tmp_path / "e.db", TOKEN)
    with emulator, connect(emulator) as sock:
        send(sock, "GET", "/health")
        assert answer(sock)[0] == 200
        emulator.stop()
        assert closed(sock)


def test_a_client_keeps_using_its_connections(emulator: RunningEmulator):
    """httpx, as fbplan's client uses it: a hundred requests on a few connections."""
    ports: set[int] = set()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=emulator.backend_url, headers=headers) as http:
        for n in range(100):
            response = http.post("/workspace", json={"name": f"w{n}"})
            assert response.status_code == 201
            stream = response.extensions["network_stream"]
            ports.add(stream.get_extra_info("socket").getsockname()[1])
        assert len(http.get("/workspace").json()["workspaces"]) == 100
    assert len(ports) == 1
