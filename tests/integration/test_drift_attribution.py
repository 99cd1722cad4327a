"""Drift says who changed a drifted object and when, from the backend's system events
(the emulator records one for every write, with the user who made it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner, Result

from fbplan.backend.client import BackendClient
from fbplan.cli.main import cli
from fbplan.drift import attribute
from fbplan.emulator.api import create_backend_app
from fbplan.emulator.store import Store

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

SPEC = """\
version: 1
workspace: blame
buckets:
  media: {bucket: blame-media, storage_type: S3, region: us-east-1, key: AKIABLAME, secret: "${env:BLAME_SECRET}"}
"""


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLAME_SECRET", "blame-bucket-secret-0042")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    result = run("apply", "--local", "spec.yaml", "--yes", "--no-smoke")
    assert result.exit_code == 0, result.stderr
    return tmp_path


def client(root: Path, token: str, app: Any) -> BackendClient:
    return BackendClient("http://direct.test", token, transport=httpx.WSGITransport(app=app))


def as_alice(root: Path) -> BackendClient:
    """The embedded emulator's backend, reached as a second user, alice@example.com."""
    app = create_backend_app(Store(str(root / ".fbplan" / "local-emulator.db")), "admin")
    admin = client(root, "admin", app)
    token = admin.post("/_emulator/users", json={"email": "alice@example.com"})["token"]
    return client(root, token, app)


def move_media(api: BackendClient) -> None:
    workspace = next(w for w in api.get("/workspace")["workspaces"] if w["name"] == "blame")
    buckets = api.get("/bucket", params={"workspaceId": workspace["id"]})["buckets"]
    media = next(b for b in buckets if b["name"] == "media")
    body = {k: media[k] for k in ("name", "bucket", "storageType", "workspaceId", "key")}
    api.put(f"/bucket/{media['id']}", json={**body, "region": "eu-west-3"})
    stray = {**body, "name": "stray", "bucket": "blame-stray", "secret": "stray-secret-1"}
    stray["region"] = "us-east-1"
    api.post("/bucket", json=stray)


def test_drift_names_the_user_who_changed_the_object_in_every_format(local: Path) -> None:
    move_media(as_alice(local))
    text = run("drift", "--local", "spec.yaml")
    assert text.exit_code == 2
    assert "# changed by alice@example.com at 20" in text.stdout
    assert "bucket.stray (bucket, id " in text.stdout
    assert "created by alice@example.com at 20" in text.stdout
    document = json.loads(run("drift", "--local", "spec.yaml", "--format", "json").stdout)
    (change,) = [c for c in document["changes"] if c["address"] == "bucket.media"]
    assert change["changed_by"]["user"] == "alice@example.com"
    assert change["changed_by"]["event"] == "updated"
    assert document["attribution"] == {"available": True}
    markdown = run("drift", "--local", "spec.yaml", "--format", "markdown").stdout
    assert "changed by alice@example.com at 20" in markdown


def test_no_drift_reads_no_system_events_and_drift_reads_them_once(local: Path) -> None:
    result = run("drift", "--local", "spec.yaml", "--verbose")
    assert result.exit_code == 0
    assert "/systemevent" not in result.stderr
    move_media(as_alice(local))
    result = run("drift", "--local", "spec.yaml", "--verbose")
    assert result.exit_code == 2
    assert result.stderr.count("POST /systemevent") == 1


def test_the_emulator_answers_the_query_with_the_writes_of_each_user(local: Path) -> None:
    alice = as_alice(local)
    move_media(alice)
    answer = alice.post("/systemevent", json={"skip": 0, "take": 10, "event": 1})
    assert answer["total"] == 1
    (event,) = answer["events"]
    assert (event["context"], event["event"], event["userEmail"]) == (
        "bucket",
        "updated",
        "alice@example.com",
    )
    everything = alice.post("/systemevent", json={"skip": 0, "take": 100})
    users = {e["userEmail"] for e in everything["events"]}
    assert users == {"alice@example.com", "emulator@flashback.local"}
    alice.post("/_emulator/reset")
    assert alice.post("/systemevent", json={"skip": 0, "take": 100})["total"] == 0


@pytest.mark.parametrize("status", [403, 404])
def test_drift_works_and_says_attribution_is_unavailable_when_the_endpoint_fails(
    harness: Any, status: int
) -> None:
    path = harness.write(SPEC)
    assert harness.apply(path).ok
    api = harness.api()
    move_media(api)
    prepared = harness.prepare(path)
    with respx.mock(base_url="http://old-backend.test") as mock:
        mock.post("/systemevent").respond(status, json={"success": False, "message": "no"})
        old = BackendClient("http://old-backend.test", "t", sleep=lambda _: None)
        report = attribute(old, prepared.plan, prepared.live)
    assert report.changed_by == {}
    assert f"POST /systemevent: HTTP {status}" in (report.attribution or "")
    assert any("who changed what is unavailable" in n for n in report.notes)
