"""Integration fixtures: the emulator in-process (httpx's WSGI transport) and fbplan's
own stages on top of it, as the CLI wires them."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fbplan.apply.executor import ApplyReport
from fbplan.backend.client import BackendClient
from fbplan.emulator.api import create_backend_app
from fbplan.emulator.store import Store
from fbplan.plan.model import Plan
from fbplan.workflow import (
    ApplyRequest,
    Connection,
    PlanRequest,
    Prepared,
    apply_prepared,
    connect,
    prepare,
)

TOKEN = "integration-test-token"


@dataclass
class Harness:
    """A spec folder, an emulator, and fbplan's stages wired to both."""

    root: Path
    store: Store
    app: object
    connection: Connection

    def write(self, text: str, name: str = "spec.yaml") -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text))
        return path

    def prepare(self, spec: Path, **request: object) -> Prepared:
        return prepare(PlanRequest(spec, **request), self.connection)  # type: ignore[arg-type]

    def plan(self, spec: Path, **request: object) -> Plan:
        return self.prepare(spec, **request).plan

    def apply(self, spec: Path, *, allow_delete: bool = False, **request: object) -> ApplyReport:
        prepared = self.prepare(spec, **request)
        return apply_prepared(prepared, self.connection, ApplyRequest(allow_delete=allow_delete))

    def api(self) -> BackendClient:
        return self.connection.api


def make_client(app: object, **kw: object) -> BackendClient:
    transport = httpx.WSGITransport(app=app)  # type: ignore[arg-type]
    return BackendClient("http://emulator.test", TOKEN, transport=transport, **kw)  # type: ignore[arg-type]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    store = Store(str(tmp_path / "emulator.db"))
    app = create_backend_app(store, TOKEN)
    client = make_client(app, sleep=lambda _: None)
    connection = Connection(client, None, tmp_path / "fingerprints.json")
    yield Harness(tmp_path, store, app, connection)
    client.close()


@pytest.fixture
def fast_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap scrypt parameters for fingerprints: same behaviour, a fraction of the time."""
    from fbplan.secrets import fingerprints

    monkeypatch.setitem(fingerprints._SCRYPT, "n", 2**4)


#: The CLI modules whose commands connect to the backend.
CONNECTING_COMMANDS = ("plan", "apply", "output", "smoke")


@dataclass
class InProcess:
    """The emulator behind the CLI's FB_BACKEND_URL, in this process."""

    store: Store
    app: object

    def client(self) -> BackendClient:
        """A client of the same backend, to change it behind fbplan's back."""
        return make_client(self.app, sleep=lambda _: None)


@pytest.fixture
def cli_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InProcess]:
    """`fbplan` commands (through click's CliRunner) talk to an emulator in this process:
    `connect` gets httpx's WSGI transport over the emulator's app, so no server starts and
    no socket opens. For tests of what the CLI does with the backend's answers; those of
    real HTTP start a server (`--local`, tests/e2e)."""
    store = Store(str(tmp_path / "in-process-emulator.db"))
    app = create_backend_app(store, TOKEN)
    transport = httpx.WSGITransport(app=app)  # type: ignore[arg-type]
    monkeypatch.setenv("FB_BACKEND_URL", "http://emulator.test")
    monkeypatch.setenv("FB_JWT", TOKEN)
    in_process = functools.partial(connect, transport=transport)
    for module in CONNECTING_COMMANDS:
        monkeypatch.setattr(f"fbplan.cli.{module}.connect", in_process)
    yield InProcess(store, app)
    store.close()
