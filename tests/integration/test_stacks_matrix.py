"""`fbplan stacks --format github-matrix`: the CI job matrix of the stacks, all of them or
only those whose files changed since a git ref, in a scratch git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True, timeout=30)


def write(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def spec(workspace: str, extra: str = "") -> str:
    return (
        f"version: 1\nworkspace: {workspace}\npolicies:\n"
        f"  p: {{scope: workspace, risk: LOW, action: log, content: {extra or 'Plain.'}}}\n"
    )


def matrix(*args: str) -> list[dict[str, str]]:
    result = run("stacks", "--format", "github-matrix", *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1  # one line, for $GITHUB_OUTPUT
    return list(json.loads(result.stdout)["include"])


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with three stacks committed; the first reads a shared file."""
    monkeypatch.chdir(tmp_path)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    write("shared/prompt.txt", "Be careful.\n")
    write("stacks/alpha/spec.yaml", spec("team-alpha", '"${file:../../shared/prompt.txt}"'))
    write("stacks/beta/spec.yaml", spec("team-beta"))
    write("stacks/gamma/main.yaml", spec("team-gamma"))
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "stacks")
    return tmp_path


def test_every_stack_with_its_workspace(repo: Path) -> None:
    assert matrix("stacks") == [
        {"stack": "stacks/alpha", "workspace": "team-alpha"},
        {"stack": "stacks/beta", "workspace": "team-beta"},
        {"stack": "stacks/gamma", "workspace": "team-gamma"},
    ]
    assert matrix("stacks/beta/spec.yaml") == [
        {"stack": "stacks/beta/spec.yaml", "workspace": "team-beta"}
    ]


def test_changed_since_keeps_the_stacks_whose_files_changed(repo: Path) -> None:
    assert matrix("--changed-since", "HEAD", "stacks") == []
    write("stacks/beta/spec.yaml", spec("team-beta", "Changed."))
    assert [m["stack"] for m in matrix("--changed-since", "HEAD", "stacks")] == ["stacks/beta"]
    write("shared/prompt.txt", "Be very careful.\n")  # read by alpha with ${file:}
    write("stacks/gamma/notes.md", "a new file in gamma's folder\n")
    assert [m["stack"] for m in matrix("--changed-since", "HEAD", "stacks")] == [
        "stacks/alpha",
        "stacks/beta",
        "stacks/gamma",
    ]


def test_changed_since_needs_a_git_repository_and_a_known_ref(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    unknown = run("stacks", "--changed-since", "no-such-ref", "stacks")
    assert unknown.exit_code == 1
    assert "--changed-since no-such-ref: no such commit" in unknown.stderr
    elsewhere = tmp_path_factory.mktemp("plain")
    write(str(elsewhere / "s" / "spec.yaml"), spec("team-plain"))
    outside = run("stacks", "--changed-since", "HEAD", str(elsewhere / "s"))
    assert outside.exit_code == 1
    assert "is not inside a git repository" in outside.stderr
    assert "Traceback" not in outside.output
