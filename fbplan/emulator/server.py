"""Start the emulator on real ports: backend, Bridge Node(s) and AI gateway.

`start_emulator` runs one werkzeug server per service in daemon threads and returns a
`RunningEmulator` (also a context manager). With ``port=0`` every port is ephemeral; with a
fixed ``port`` the gateway listens on ``port + 1`` and bridge node *i* on ``port + 2 + i``, so
a long-running ``fbplan emulator`` keeps stable URLs. One `FaultInjector` and one
`RequestRecorder` are shared by all services (rules can target ``service: bridge`` etc.).

Each started Bridge Node is advertised in the store (`Store.set_node`, ``nodeServices`` 1) with
its local URL, and the gateway as an AI node (``nodeServices`` 2); nodes left in the store by an
earlier run with another configuration are removed. Nothing here prints: werkzeug's request
logging is switched off, and `run_forever` hands the running emulator to ``on_ready`` so the
caller decides what to show.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from fbplan.emulator.api import create_backend_app
from fbplan.emulator.faults import FaultInjector, FaultRule, parse_faults
from fbplan.emulator.keepalive import KeepAliveServer
from fbplan.emulator.recorder import RequestRecorder, s3_template
from fbplan.emulator.store import Store
from fbplan.emulator.store_nodes import SERVICE_AI, SERVICE_STORAGE

POLL_INTERVAL = 0.1  # seconds; bounds how long stop() waits for each server loop
DEFAULT_BRIDGE_NODES: tuple[dict[str, Any], ...] = (
    {"id": "s3-us-east-1-aws", "region": "us-east-1", "provider": "aws", "latency_ms": 0},
)


class PortUnavailable(OSError):
    """One service's port could not be bound; `service` names it, `port` is the one asked
    for (0: an ephemeral port)."""

    def __init__(self, service: str, host: str, port: int, error: OSError) -> None:
        # socket.create_server's strerror repeats the address; errno's text does not
        code = error.errno or 0  # a resolver's errno is negative
        reason = os.strerror(code) if code > 0 else error.strerror or str(error)
        super().__init__(error.errno, reason)
        self.service, self.host, self.port = service, host, port


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request log line."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return None


@dataclass
class RunningEmulator:
    """A started emulator; `stop()` (or leaving the ``with`` block) shuts it down."""

    backend_url: str
    bridge_urls: list[str]
    gateway_url: str
    token: str
    store: Store
    faults: FaultInjector
    recorder: RequestRecorder
    _servers: list[BaseWSGIServer] = field(default_factory=list, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop every server and close the store (idempotent)."""
        servers, self._servers = self._servers, []
        stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in servers]
        for stopper in stoppers:
            stopper.start()
        for stopper, server in zip(stoppers, servers, strict=True):
            stopper.join(timeout=5)
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if servers:
            self.store.close()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(
    data_path: str | Path,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Sequence[FaultRule | Mapping[str, Any]] | str | None = None,
    seed: int | None = None,
    bridge_nodes: Sequence[Mapping[str, Any]] | None = None,
    *,
    quotas: Mapping[str, int | None] | None = None,
    credits: Mapping[str, Any] | None = None,
) -> RunningEmulator:
    """Start backend, Bridge Node(s) and AI gateway; see the module docstring.

    `faults` is a list of rules or a JSON/YAML text (`parse_faults`; a ``seed`` in the text is
    used unless `seed` is given). `bridge_nodes` items: ``id`` (default
    ``s3-<region>-<provider>``), ``region``, ``provider``, ``latency_ms``, ``status``.
    """
    from fbplan.emulator.bridge import create_bridge_app
    from fbplan.emulator.gateway import create_gateway_app

    if isinstance(faults, str):
        faults, text_seed = parse_faults(faults)
        seed = text_seed if seed is None else seed

    store = Store(data_path)
    if quotas:
        store.set_quotas(quotas)
    if credits:
        store.set_credits_settings(credits)  # {subscription?: bool, credits?: number | None}
    injector = FaultInjector(faults or [], seed)
    recorder = RequestRecorder()
    servers: list[BaseWSGIServer] = []
    try:
        app = create_backend_app(store, token, injector, recorder)
        backend = _serve(host, port, app, servers, "backend API", keep_alive=True)
        gateway = _serve(host, port + 1 if port else 0, None, servers, "AI gateway")
        nodes = [_node_config(n) for n in (bridge_nodes or DEFAULT_BRIDGE_NODES)]
        for index, node in enumerate(nodes):
            server = _serve(host, port + 2 + index if port else 0, None, servers, "Bridge Node")
            advertised = store.set_node(
                node["id"],
                _url(server),
                node["region"],
                node["provider"],
                node["latency_ms"],
                node["status"],
                services=SERVICE_STORAGE,
            )
            bridge = injector.wrap(create_bridge_app(store, advertised), service="bridge")
            server.app = recorder.wrap(bridge, service="bridge", template_for=s3_template)
        first = nodes[0]
        store.set_node(
            f"openai-{first['region']}-{first['provider']}",
            _url(gateway),
            first["region"],
            first["provider"],
            0,
            "ONLINE",
            services=SERVICE_AI,
        )
        gateway.app = recorder.wrap(
            injector.wrap(create_gateway_app(store), service="gateway"), service="gateway"
        )
        _forget_stale_nodes(
            store, {n["id"] for n in nodes} | {f"openai-{first['region']}-{first['provider']}"}
        )
    except BaseException:
        for server in servers:
            server.server_close()
        store.close()
        raise
    threads = [
        threading.Thread(
            target=s.serve_forever, args=(POLL_INTERVAL,), name=f"fbplan-emulator-{i}", daemon=True
        )
        for i, s in enumerate(servers)
    ]
    for thread in threads:
        thread.start()
    return RunningEmulator(
        backend_url=_url(backend),
        bridge_urls=[_url(s) for s in servers[2:]],
        gateway_url=_url(gateway) + "/v1",
        token=token,
        store=store,
        faults=injector,
        recorder=recorder,
        _servers=servers,
        _threads=threads,
    )


def run_forever(
    data_path: str | Path,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Sequence[FaultRule | Mapping[str, Any]] | str | None = None,
    seed: int | None = None,
    bridge_nodes: Sequence[Mapping[str, Any]] | None = None,
    *,
    quotas: Mapping[str, int | None] | None = None,
    credits: Mapping[str, Any] | None = None,
    on_ready: Callable[[RunningEmulator], None] | None = None,
    stop_event: threading.Event | None = None,
) -> RunningEmulator:
    """Start the emulator, call ``on_ready(emulator)`` (the caller prints the URLs), serve until
    `stop_event` is set or Ctrl-C, then stop and return the (stopped) emulator."""
    emulator = start_emulator(
        data_path, token, host, port, faults, seed, bridge_nodes, quotas=quotas, credits=credits
    )
    event = stop_event or threading.Event()
    try:
        if on_ready is not None:
            on_ready(emulator)
        while not event.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return emulator


def _serve(
    host: str,
    port: int,
    app: Any,
    servers: list[BaseWSGIServer],
    service: str,
    *,
    keep_alive: bool = False,
) -> BaseWSGIServer:
    """A threaded server for `app` on a socket bound here: werkzeug, left to bind, prints
    its own message and exits when the port is taken; `PortUnavailable` says which one.
    `keep_alive`: connections stay open between requests (`fbplan.emulator.keepalive`);
    the Bridge Node and gateway, a few requests a run, close each one as werkzeug does."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.create_server((host, port), family=family, backlog=128)
    except OSError as error:
        raise PortUnavailable(service, host, port, error) from None
    with listening:  # werkzeug serves a duplicate of it
        if keep_alive:
            server: BaseWSGIServer = KeepAliveServer(host, port, app, fd=listening.fileno())
        else:
            server = make_server(
                host, port, app, threaded=True, request_handler=_QuietHandler, fd=listening.fileno()
            )
    servers.append(server)
    return server


def _url(server: BaseWSGIServer) -> str:
    bound = server.server_address[0]
    host = bound.decode() if isinstance(bound, bytes) else bound
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.port}"  # werkzeug's: the port bound, also when asked for 0


def _node_config(node: Mapping[str, Any]) -> dict[str, Any]:
    region = str(node.get("region", "us-east-1"))
    provider = str(node.get("provider", "aws"))
    api = str(node.get("api", "s3"))
    return {
        "id": str(node.get("id") or f"{api}-{region}-{provider}"),
        "region": region,
        "provider": provider,
        "latency_ms": float(node.get("latency_ms", node.get("latencyMs", 0)) or 0),
        "status": str(node.get("status", "ONLINE")),
    }


def _forget_stale_nodes(store: Store, keep: set[str]) -> None:
    for node in store.list_nodes():
        if node["id"] not in keep:
            store.remove_node(node["id"])
