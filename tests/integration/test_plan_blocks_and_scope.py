"""Through the CLI on the embedded emulator: a name another workspace uses blocks the plan
(exit 3, blockers first in every format), and `--exclude` leaves part of a plan out, is
saved in the plan file and used again by `apply --plan`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

SPEC = """\
version: 1
workspace: {workspace}
buckets:
  media: {{bucket: {workspace}-media, storage_type: S3, key: AKIASCOPE,
          secret: "${{env:SCOPE_SECRET}}", region: us-east-1}}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{{bucket: media, folder: media, master: true}}]
"""


@pytest.fixture(autouse=True)
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCOPE_SECRET", "scope-provider-secret-5521")
    Path("a.yaml").write_text(SPEC.format(workspace="team-a"))
    Path("b.yaml").write_text(SPEC.format(workspace="team-b"))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_name_used_by_another_workspace_blocks_the_plan_with_exit_3() -> None:
    assert run("apply", "--local", "--yes", "--no-smoke", "a.yaml").exit_code == 0
    text = run("plan", "--local", "b.yaml")
    assert text.exit_code == 3, text.output
    lines = [line for line in text.stdout.splitlines() if line]
    assert lines[0] == 'fbplan plan for workspace "team-b"'
    assert lines[2].startswith("Blocked: bucket.media: the bucket name 'media' is already used")
    assert lines[3].startswith("Blocked: repo.app: the repository name 'app' is already used")
    markdown = run("plan", "--local", "--format", "markdown", "b.yaml")
    assert markdown.exit_code == 3
    assert markdown.stdout.startswith("> [!CAUTION]\n> **Blocked:**")
    document = json.loads(run("plan", "--local", "--format", "json", "b.yaml").stdout)
    assert list(document).index("blockers") < list(document).index("changes")
    assert {b["rule"] for b in document["blockers"]} == {"name-conflict"}
    assert document["notes"] == []
    refused = run("apply", "--local", "--yes", "--no-smoke", "b.yaml")
    assert refused.exit_code == 3
    assert "blocked (name-conflict): bucket.media" in refused.stderr
    workspaces = run("plan", "--local", "--detailed-exitcode", "a.yaml")
    assert workspaces.exit_code == 0  # team-a untouched, team-b never made


def test_exclude_leaves_out_what_needs_it_and_is_kept_in_the_plan_file() -> None:
    planned = run("plan", "--local", "--exclude", "bucket.media", "--out", "p.json", "a.yaml")
    assert planned.exit_code == 0, planned.output
    assert "+ workspace will be created" in planned.stdout
    assert "bucket.media will be" not in planned.stdout
    assert "repo.app will be" not in planned.stdout
    assert "repo.app: left out, as it needs the change of bucket.media" in planned.stdout
    assert json.loads(Path("p.json").read_text())["excludes"] == ["bucket.media"]
    shown = run("show", "p.json")
    assert "This plan leaves out --exclude bucket.media" in shown.stdout
    applied = run("apply", "--local", "--yes", "--no-smoke", "--plan", "p.json")
    assert applied.exit_code == 0, applied.output
    left = run("plan", "--local", "--detailed-exitcode", "a.yaml")
    assert left.exit_code == 2
    assert "+ bucket.media will be created" in left.stdout
    assert "+ repo.app will be created" in left.stdout
    assert "workspace will be" not in left.stdout


def test_an_exclude_that_matches_nothing_is_an_error() -> None:
    result = run("plan", "--local", "--exclude", "bucket.nope", "a.yaml")
    assert result.exit_code == 1
    assert "--exclude bucket.nope: no such resource in the spec or the workspace" in result.stderr
