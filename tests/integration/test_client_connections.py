"""The client keeps its connections open: on a real network every new connection is a
round trip of its own (two or more with TLS) before the request can even be sent.

The server here speaks HTTP/1.1 with keep-alive, as the Flashback backend does, and counts
the connections it accepts.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fbplan.backend import BackendClient
from fbplan.errors import TransportError

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
def keep_alive_server(
    tls: ssl.SSLContext | None = None,
) -> Iterator[tuple[str, type[_KeepAlive]]]:
    _KeepAlive.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", _KeepAlive
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


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no certificate authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_an_https_backend_must_present_a_certificate_the_client_trusts(tmp_path: Path) -> None:
    """The client makes its TLS context once, and only for an https backend: that one still
    verifies the server (a self-signed certificate is refused, nothing is read)."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*_self_signed(tmp_path))
    with keep_alive_server(tls) as (url, _), BackendClient(url, "token") as client:
        assert url.startswith("https://")
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get("/workspace")
