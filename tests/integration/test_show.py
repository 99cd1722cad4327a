"""`fbplan show PLANFILE`: a saved plan rendered again, with no backend call and no spec."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli
from fbplan.plan.planfile import save_plan
from fbplan.plan.render import render_markdown, render_text

SPEC = """\
version: 1
workspace: shown
buckets:
  media: {bucket: shown-media, storage_type: S3, key: AKIASHOWN, secret: "${env:SHOWN_SECRET}",
          region: us-east-1}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    api_keys: {app-rw: {access: WRITE}}
"""
SECRET = "shown-provider-secret-8830"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWN_SECRET", SECRET)


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A backend address that accepts connections and answers none: any request show made
    would be seen here (and would hang until the client's timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    monkeypatch.setenv("FB_BACKEND_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setenv("FB_JWT", "show-token")
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def show(*args: str) -> Result:
    return CliRunner().invoke(cli, ["show", *args], catch_exceptions=False)


@pytest.fixture
def saved(harness: Any) -> tuple[Path, Any]:
    """A plan saved by `plan --out`, and the spec it was made from removed."""
    spec = harness.write(SPEC)
    plan = harness.plan(spec)
    path = harness.root / "reviewed.plan.json"
    save_plan(plan, path)
    spec.unlink()
    return path, plan


def test_show_renders_a_saved_plan_in_every_format_without_a_request(
    saved: tuple[Path, Any], listener: socket.socket
) -> None:
    path, plan = saved
    text = show(str(path))
    assert text.exit_code == 0, text.output
    assert text.stdout == render_text(plan)
    assert 'fbplan plan for workspace "shown"' in text.stdout
    assert "Plan: 4 to create" in text.stdout
    document = show(str(path), "--format", "json")
    assert document.exit_code == 0
    assert document.stdout == path.read_text()  # the plan file is the JSON document
    assert json.loads(document.stdout)["summary"]["create"] == 4
    markdown = show(str(path), "--format", "markdown")
    assert markdown.stdout == render_markdown(plan)
    assert "### fbplan plan: `shown`" in markdown.stdout
    assert connections(listener) == 0
    for result in (text, document, markdown):
        assert SECRET not in result.output


def test_show_puts_a_saved_plans_blockers_first(saved: tuple[Path, Any]) -> None:
    path, plan = saved
    assert [b.rule for b in plan.blockers] == ["secret-sink"]  # a new key and no sink
    markdown = show(str(path), "--format", "markdown").stdout
    assert markdown.startswith("> [!CAUTION]\n")
    assert "no secrets.sink" in markdown.split("###")[0]
    text = show(str(path)).stdout.splitlines()
    assert text[0] == 'fbplan plan for workspace "shown"'
    assert [line for line in text if line][2].startswith("Blocked: ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "is not an fbplan plan (expected a JSON object)."),
        ('{"kind": "plan"}', "is not an fbplan plan (no format_version)."),
        ('{"format_version": 99}', "was written by a newer fbplan (format 99)"),
        ('{"format_version": 0}', "has format 0, which this fbplan does not read"),
        ("not json at all", "is not valid JSON (line 1, column 1"),
    ],
)
def test_a_file_that_is_not_a_plan_is_one_sentence_and_exit_1(
    tmp_path: Path, listener: socket.socket, content: str, expected: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    result = show(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert connections(listener) == 0


def test_a_plan_file_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fbplan.plan.planfile.MAX_PLAN_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text('{"format_version": 1, "padding": "' + "x" * 200 + '"}')
    result = show(str(path))
    assert result.exit_code == 1
    assert "larger than the 100-byte limit" in result.stderr


def test_a_missing_plan_file_is_one_sentence(tmp_path: Path) -> None:
    result = show(str(tmp_path / "nope.json"))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
