"""The emulator's S3 Bridge Node: a real S3 endpoint with moto's S3 behind it.

`create_bridge_app(store, node)` returns one WSGI app per advertised node. A request goes:

1. delay by the node's current ``latency_ms`` (re-read from the store on every request, so an
   admin can change it and a latency-aware client can measure it); a node whose status is
   ``OFFLINE`` or ``DISCONNECTED`` answers 503 ``ServiceUnavailable``;
2. ``GET /health`` answers 200 without authentication;
3. authentication: AWS SigV4 (header or presigned URL) whose access key id is the ``key`` of a
   repo storage API key of a live repo (else ``InvalidAccessKeyId``), verified with that key's
   secret (else ``SignatureDoesNotMatch``), see `fbplan.emulator.sigv4`;
4. the S3 bucket a client addresses is the **repo name** (path-style, or virtual-hosted as
   ``<repo>.<node host>``); any other bucket is ``AccessDenied``;
5. access type: ``READ`` keys may GET/HEAD; ``WRITE`` may also put, copy, delete objects and
   run multipart uploads; ``ADMIN`` may also change bucket sub-resources (policy, tagging...).
   The repo bucket itself is managed by Flashback: ``CreateBucket`` on it is a no-op 200 and
   ``DeleteBucket`` is ``AccessDenied``. ``ListBuckets`` lists just the key's repo bucket;
6. the request is forwarded in-process to moto's S3 server app (`moto.server.create_backend_app`),
   one per process, shared by every node and serialized by a lock, so all nodes see the same
   objects. Inside moto the repo's bucket is named ``fbrepo-<sha256(repo id)[:32]>`` and created
   lazily; responses are rewritten to show the repo name. Keying moto's bucket by repo id (not
   name) keeps two emulator stores in one process apart and gives a recreated repo a fresh bucket;
7. traffic is recorded with `store.record_storage_traffic`: PUT body bytes as upload,
   response body bytes of a successful GET as download, the object size change of writes, the
   measured latency (injected delay included) and the node's host.

Objects live in memory: they vanish when the process ends, while the store persists.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wsgi import get_input_stream

from fbplan.emulator.sigv4 import (
    PRESIGN_PARAMS,
    IncomingRequest,
    SigV4Error,
    parse_request,
    verify,
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]

_OFFLINE = {"OFFLINE", "DISCONNECTED"}
_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "server", "date"}
_NOT_FORWARDED = {"authorization", "host", "content-length", "transfer-encoding", "expect"}
# Sub-resources whose GET on an object answers XML (which may name the bucket).
_XML_SUBRESOURCES = {"acl", "tagging", "uploadId", "attributes", "legal-hold", "retention"}
_NOT_SUBRESOURCES = {"x-id"}
# moto treats a request without Authorization as anonymous (private objects answer 403); it
# does not check signatures, so the bridge, having verified the client, sends a fixed one.
_MOTO_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIAFBPLANBRIDGE0000/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=" + "0" * 64
)
_MOTO_LOCK = threading.RLock()
_READ, _WRITE, _ADMIN, _CREATE, _DENY = "read", "write", "admin", "create", "deny"
_GRANTS = {
    "READ": {_READ},
    "WRITE": {_READ, _WRITE, _CREATE},
    "ADMIN": {_READ, _WRITE, _CREATE, _ADMIN},
}


def create_bridge_app(store: Any, node: Mapping[str, Any]) -> WsgiApp:
    """A WSGI S3 endpoint for one advertised Bridge Node (`node`: id, url, latency_ms...)."""
    return BridgeApp(store, dict(node))


def internal_bucket_name(repo_id: str) -> str:
    """moto's name for a repo's bucket: stable per repo id, valid as an S3 bucket name."""
    return "fbrepo-" + hashlib.sha256(repo_id.encode()).hexdigest()[:32]


@dataclass
class Reply:
    """A buffered HTTP answer (status line, headers, body)."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    forwarded: bool = False  # answered by moto (as opposed to refused by the bridge)
    size_change: int = 0

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class S3Call:
    """One authenticated S3 request, parsed: who, which bucket and key, what it needs."""

    method: str
    bucket: str
    raw_key: str
    query: str
    headers: dict[str, str]
    body: bytes
    api_key: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return unquote(self.raw_key)

    @property
    def internal(self) -> str:
        return internal_bucket_name(self.api_key["repoId"])


class BridgeApp:
    """WSGI app of one Bridge Node; see the module docstring for the rules."""

    def __init__(self, store: Any, node: dict[str, Any]) -> None:
        self.store = store
        self.node = node
        self.host = urlsplit(str(node.get("url") or "")).netloc or str(node.get("id", "bridge"))
        self.moto = MotoS3()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        try:
            reply = self._handle(environ, started)
        except SigV4Error as err:
            reply = s3_error(err.code, err.message, err.status)
        except Exception as err:  # an emulator bug must still answer in S3's error format
            reply = s3_error("InternalError", f"Bridge Node error: {err}", 500)
        start_response(reply.status, reply.headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else reply.body]

    def _handle(self, environ: dict[str, Any], started: float) -> Reply:
        latency_ms, status = self._node_state()
        if latency_ms > 0:
            time.sleep(latency_ms / 1000)
        if status in _OFFLINE:
            return s3_error("ServiceUnavailable", f"Bridge Node is {status}.", 503)
        if environ.get("PATH_INFO") == "/health" and environ.get("REQUEST_METHOD") == "GET":
            return health_reply(self.node)
        call = self._authenticate(environ)
        if call.bucket == "":
            return list_buckets_reply(call)
        reply = self._dispatch(call)
        self._record(call, reply, started)
        return reply

    def _node_state(self) -> tuple[float, str]:
        """The node's current latency (ms) and status as the store has them now."""
        current: Mapping[str, Any] = self.node
        for row in self.store.list_nodes():
            if row.get("id") == self.node.get("id"):
                current = row
                break
        latency = current.get("latency_ms", current.get("latencyMs")) or 0
        return float(latency), str(current.get("status") or "ONLINE").upper()

    def _authenticate(self, environ: dict[str, Any]) -> S3Call:
        raw_path, query = raw_target(environ)
        headers = wsgi_headers(environ)
        body = get_input_stream(environ).read()
        incoming = IncomingRequest(environ["REQUEST_METHOD"], raw_path, query, headers, body)
        claims = parse_request(incoming)
        api_key = self.store.find_repo_api_key_by_key(claims.access_key)
        if api_key is None:
            raise SigV4Error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records "
                "(use a repo storage API key of a live repository).",
            )
        verify(incoming, claims, api_key["secret"])
        bucket, raw_key = self._split_target(raw_path, headers.get("host", ""))
        forwarded_query = strip_presign_params(query)
        return S3Call(
            method=environ["REQUEST_METHOD"],
            bucket=bucket,
            raw_key=raw_key,
            query=forwarded_query,
            headers=headers,
            body=body,
            api_key=api_key,
            params=dict(parse_qsl(forwarded_query, keep_blank_values=True)),
        )

    def _split_target(self, raw_path: str, host: str) -> tuple[str, str]:
        """(bucket, raw key) from a path-style or virtual-hosted request."""
        node_host = urlsplit(f"//{self.host}").hostname or ""
        request_host = urlsplit(f"//{host}").hostname or ""
        if node_host and request_host.endswith("." + node_host):
            return request_host[: -len(node_host) - 1], raw_path.removeprefix("/")
        bucket, _, raw_key = raw_path.removeprefix("/").partition("/")
        return unquote(bucket), raw_key

    def _dispatch(self, call: S3Call) -> Reply:
        if call.bucket != call.api_key["repoName"]:
            return s3_error(
                "AccessDenied",
                f"This key may only use bucket {call.api_key['repoName']!r} (its repository).",
                403,
                resource=f"/{call.bucket}",
            )
        needed = required_access(call.method, call.raw_key, call.params)
        granted = _GRANTS.get(str(call.api_key.get("accessType", "")).upper(), set())
        if needed == _DENY or needed not in granted:
            return s3_error(
                "AccessDenied",
                f"A {call.api_key.get('accessType')} key may not {call.method} this resource.",
                403,
                resource=f"/{call.bucket}/{call.key}".rstrip("/"),
            )
        if needed == _CREATE:
            self.moto.ensure_bucket(call.internal)
            headers = [("Location", f"/{call.bucket}"), ("Content-Length", "0")]
            return Reply("200 OK", headers, forwarded=True)
        if copy_source_bucket(call.headers) not in (None, call.bucket):
            return s3_error("AccessDenied", "Copy source must be in the same repository.", 403)
        return self.moto.forward(call)

    def _record(self, call: S3Call, reply: Reply, started: float) -> None:
        """Count a request that reached storage (refusals by the bridge are not traffic)."""
        if not reply.forwarded:
            return
        ok = reply.code < 300
        upload = upload_bytes(call) if call.method == "PUT" and ok else 0
        download = len(reply.body) if call.method == "GET" and ok else 0
        self.store.record_storage_traffic(
            repo_id=call.api_key["repoId"],
            bucket_id=first_bucket_id(self.store, call.api_key["repoId"]),
            host=self.host,
            upload_bytes=upload,
            download_bytes=download,
            size_change=reply.size_change,
            latency_ms=round((time.monotonic() - started) * 1000, 3),
        )


class MotoS3:
    """moto's S3 server app, in process, shared by all nodes and serialized by one lock."""

    def __init__(self) -> None:
        self.app = _moto_app()

    def ensure_bucket(self, internal: str) -> None:
        """Create the repo's bucket in moto unless it exists (checked on every request, so a
        reset of moto's backends elsewhere in the process is survived)."""
        with _MOTO_LOCK:
            if self.request("HEAD", f"/{internal}").code == 404:
                self.request("PUT", f"/{internal}")

    def forward(self, call: S3Call) -> Reply:
        """Run `call` in moto (creating the bucket on first use) and show the repo name."""
        with _MOTO_LOCK:
            self.ensure_bucket(call.internal)
            before = self._sizes(call)
            reply = self._send(call)
            after = self._sizes(call)
            change = after - before if after is not None and before is not None else 0
        reply = rename_bucket(reply, call)
        reply.forwarded = True
        reply.size_change = change
        return reply

    def _send(self, call: S3Call) -> Reply:
        path = f"/{call.internal}/{call.raw_key}" if call.raw_key else f"/{call.internal}"
        headers = {k: v for k, v in call.headers.items() if k not in _NOT_FORWARDED}
        if "x-amz-copy-source" in headers:
            headers["x-amz-copy-source"] = rewrite_copy_source(headers["x-amz-copy-source"], call)
        return self.request(call.method, path, call.query, headers, call.body)

    def _sizes(self, call: S3Call) -> int | None:
        """Total size of the objects a write touches (None for reads: nothing to compare)."""
        if call.method in ("GET", "HEAD"):
            return None
        if call.raw_key:
            return self._object_size(call.internal, call.raw_key)
        if call.method == "POST" and "delete" in call.params:
            keys = deleted_keys(call.body)
            return sum(self._object_size(call.internal, quote(k, safe="/~")) for k in keys)
        return None

    def _object_size(self, internal: str, raw_key: str) -> int:
        reply = self.request("HEAD", f"/{internal}/{raw_key}")
        return int(reply.header("Content-Length") or 0) if reply.code == 200 else 0

    def request(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """One in-process request to moto (path-style, host ``localhost``, fixed auth)."""
        sent: dict[str, str] = {
            **(headers or {}),
            "Host": "localhost",
            "Authorization": _MOTO_AUTHORIZATION,
        }
        builder = EnvironBuilder(
            path=path,
            method=method,
            query_string=query,
            headers=list(sent.items()),
            data=body,
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            payload = b"".join(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
        kept = [(k, v) for k, v in response_headers.items() if k.lower() not in _HOP_BY_HOP]
        return Reply(status, kept, payload)


@cache
def _moto_app() -> WsgiApp:
    """moto's S3 server-mode Flask app (built once; the backends are process-global)."""
    from moto.server import create_backend_app

    return create_backend_app("s3")


def required_access(method: str, raw_key: str, params: Mapping[str, str]) -> str:
    """Which grant a request needs: read, write, admin, create (bucket no-op) or deny."""
    if method in ("GET", "HEAD"):
        return _READ
    if raw_key:
        return _WRITE
    subresources = set(params) - _NOT_SUBRESOURCES
    if method == "POST" and "delete" in subresources:
        return _WRITE
    if method == "PUT" and not subresources:
        return _CREATE
    if method == "DELETE" and not subresources:
        return _DENY
    return _ADMIN


def raw_target(environ: Mapping[str, Any]) -> tuple[str, str]:
    """The request path and query as the client sent them (SigV4 signs the raw form)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        parts = urlsplit(raw)
        return parts.path or "/", parts.query
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    return quote(path, safe="/~"), environ.get("QUERY_STRING", "")


def wsgi_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """Request headers from a WSGI environ, lower-cased names."""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def strip_presign_params(query: str) -> str:
    """The query without presigned-URL auth parameters (moto must not see them)."""
    names = set(PRESIGN_PARAMS)
    return "&".join(p for p in query.split("&") if p and p.split("=", 1)[0] not in names)


def copy_source_bucket(headers: Mapping[str, str]) -> str | None:
    """The bucket named by ``x-amz-copy-source`` (None when the request is not a copy)."""
    source = headers.get("x-amz-copy-source")
    if source is None:
        return None
    return unquote(source).lstrip("/").split("/", 1)[0]


def rewrite_copy_source(source: str, call: S3Call) -> str:
    rest = source.lstrip("/").split("/", 1)[1] if "/" in source.lstrip("/") else ""
    return f"/{call.internal}/{rest}"


def deleted_keys(body: bytes) -> list[str]:
    """Object keys named in a DeleteObjects request body."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def upload_bytes(call: S3Call) -> int:
    """Payload bytes of an upload (the decoded length for aws-chunked bodies)."""
    decoded = call.headers.get("x-amz-decoded-content-length")
    return int(decoded) if decoded and decoded.isdigit() else len(call.body)


def rename_bucket(reply: Reply, call: S3Call) -> Reply:
    """Replace moto's internal bucket name with the repo name in XML answers and headers.

    Object bodies (a successful GET of an object) are left untouched.
    """
    public = escape(call.bucket)
    headers = [(k, v.replace(call.internal, public)) for k, v in reply.headers]
    xml_get = not call.raw_key or bool(_XML_SUBRESOURCES & set(call.params))
    object_body = call.method == "GET" and reply.code < 300 and not xml_get
    if object_body or call.internal.encode() not in reply.body:
        return Reply(reply.status, headers, reply.body)
    body = reply.body.replace(call.internal.encode(), public.encode())
    headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
    return Reply(reply.status, headers, body)


def first_bucket_id(store: Any, repo_id: str) -> str | None:
    """The id of the repo's first attached bucket, when the store can tell."""
    finder = getattr(store, "repo_bucket_ids", None)
    if callable(finder):
        ids = list(finder(repo_id) or [])
        return ids[0] if ids else None
    return None


def s3_error(code: str, message: str, status: int, resource: str = "") -> Reply:
    """An S3 XML error answer, so S3 SDKs raise with the right error code."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", request_id),
    ]
    return Reply(f"{status} {_REASONS.get(status, 'Error')}", headers, body)


def health_reply(node: Mapping[str, Any]) -> Reply:
    body = f'{{"status": "ok", "node": "{escape(str(node.get("id", "")))}"}}'.encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return Reply("200 OK", headers, body)


def list_buckets_reply(call: S3Call) -> Reply:
    """``ListBuckets`` answers with the key's repo bucket only."""
    if call.method != "GET":
        return s3_error("MethodNotAllowed", "Only GET is allowed on the service.", 405)
    owner = escape(call.api_key["repoId"])
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Owner><ID>{owner}</ID><DisplayName>{owner}</DisplayName></Owner>"
        f"<Buckets><Bucket><Name>{escape(call.api_key['repoName'])}</Name>"
        "<CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>"
        "</ListAllMyBucketsResult>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    return Reply("200 OK", headers, body)


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
