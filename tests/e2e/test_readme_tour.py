"""The README's tour, run as a user runs it: fbplan in a subprocess on the examples."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from fbplan.spec import load_schema  # noqa: F401  (the spec schema is packaged)
from tests.e2e.conftest import REPO

pytestmark = pytest.mark.e2e

QUICKSTART = "examples/quickstart.yaml"

# What differs from run to run: ports, durations, object names, key ids.
_VOLATILE = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\b\d+\.\d+ ?s\b"), "N s"),
    (re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b"), "UUID"),
    (re.compile(r"\bFBK[0-9A-Z]+\b"), "KEY-ID"),
)
_EDIT = re.compile(r"\*\*\d+\. Edit\*\* `([^`]+)` \(`([^`]+)` → `([^`]+)`\)")
_CONSOLE = re.compile(r"```console\n(.*?)```", re.DOTALL)


def tour_steps() -> Iterator[tuple[str, object]]:
    """The README's tour in order: ("edit", (file, old, new)) for an edit it asks for in
    words, ("run", (command, expected output lines)) for each `$ command` of its console
    blocks."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[int, str, object]] = []
    for edit in _EDIT.finditer(tour):
        steps.append((edit.start(), "edit", edit.groups()))
    for block in _CONSOLE.finditer(tour):
        for i, chunk in enumerate(("\n" + block.group(1)).split("\n$ ")[1:]):
            command, *output = chunk.rstrip("\n").split("\n")
            steps.append((block.start() + i, "run", (command, output)))
    for _, kind, step in sorted(steps, key=lambda s: s[0]):
        yield kind, step


def _steady(line: str) -> str:
    for pattern, replacement in _VOLATILE:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line, where a README line `...` stands for any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(_matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and _matches(expected[1:], actual[1:])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_tour_prints_what_the_readme_shows_and_leaves_the_examples_alone(user):
    examples = _snapshot(user.cwd / "examples")
    code = None
    for kind, step in tour_steps():
        if kind == "edit":
            name, old, new = step  # type: ignore[misc]
            spec = user.cwd / name
            assert old in spec.read_text(), f"the tour edits {name}: {old!r} is not in it"
            spec.write_text(spec.read_text().replace(old, new))
            continue
        command, expected = step  # type: ignore[misc]
        if command.startswith("fbplan "):
            run = user.terminal(*shlex.split(command)[1:])
            code, shown = run.code, run.stdout.splitlines()
        elif command == "echo $?":
            shown = [str(code)]
        else:  # cp, sed: run by the shell, as the reader would
            done = subprocess.run(command, shell=True, cwd=user.cwd, timeout=60, check=True)
            shown = [] if done.returncode == 0 else ["failed"]
        steady = [_steady(line) for line in shown]
        assert _matches([_steady(line) for line in expected], steady), f"$ {command}\n" + "\n".join(
            steady
        )
    assert _snapshot(user.cwd / "examples") == examples
    assert {p.name for p in user.cwd.iterdir()} == {"examples", "schemas", "tour", ".fbplan"}


def test_validate_then_apply_then_plan_shows_no_changes(user):
    assert user.fbplan("validate", QUICKSTART).code == 0

    applied = user.fbplan("apply", "--local", "--yes", QUICKSTART)
    assert applied.code == 0, applied.stderr
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete." in applied.stdout
    assert "Apply: 4 done, 0 failed, 0 skipped." in applied.stdout

    again = user.fbplan("plan", "--local", "--detailed-exitcode", QUICKSTART)
    assert again.code == 0, again.stderr
    assert "No changes." in again.stdout


def test_apply_keeps_the_new_key_secret_in_the_sink_and_prints_it_nowhere(user):
    applied = user.fbplan("apply", "--local", "--yes", QUICKSTART)
    sink = user.cwd / ".fbplan" / "quickstart-secrets.env"
    assert stat.S_IMODE(os.stat(sink).st_mode) == 0o600
    secret = next(
        line.split("=", 1)[1].strip('"')
        for line in sink.read_text().splitlines()
        if line.startswith("APP_API_KEY_APP_RW_SECRET=")
    )
    assert len(secret) > 8
    assert secret not in applied.stdout + applied.stderr
    assert "demo-bucket-secret-not-a-real-credential" not in applied.stdout + applied.stderr


def test_changing_a_repo_mode_shows_exactly_one_update(user):
    assert user.fbplan("apply", "--local", "--yes", QUICKSTART).code == 0
    spec = user.cwd / QUICKSTART
    spec.write_text(spec.read_text().replace("mode: NORMAL", "mode: MIRROR"))
    planned = user.fbplan("plan", "--local", "--detailed-exitcode", QUICKSTART)
    assert planned.code == 2
    assert "~ repo.app" in planned.stdout
    assert 'mode: "NORMAL" -> "MIRROR"' in planned.stdout
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in planned.stdout


def test_a_typo_in_a_field_name_gives_file_line_and_exit_1_without_a_request(user):
    spec = user.cwd / QUICKSTART
    spec.write_text(
        spec.read_text().replace(
            "    storage_type: S3\n    region", "    storage_typ: S3\n    region"
        )
    )
    result = user.fbplan("plan", QUICKSTART)  # no FB_JWT: any request would fail differently
    assert result.code == 1
    assert (
        f"{QUICKSTART}:17:5: buckets.media.storage_typ: unknown field; did you mean 'storage_type'?"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (user.cwd / ".fbplan").exists()


def test_plan_json_follows_the_published_schema(user):
    result = user.fbplan("plan", "--local", "--format", "json", QUICKSTART)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    schema = json.loads((user.cwd / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["summary"]["create"] == 4


def test_a_saved_plan_applies_and_a_stale_one_is_refused(user):
    assert user.fbplan("plan", "--local", "--out", "plan.json", QUICKSTART).code == 0
    applied = user.fbplan("apply", "--local", "--yes", "--plan", "plan.json")
    assert applied.code == 0, applied.stderr
    # The world moved since plan.json was made: applying it again must be refused.
    stale = user.fbplan("apply", "--local", "--yes", "--plan", "plan.json")
    assert stale.code == 3
    assert "changed since the plan was saved" in stale.stderr


def test_apply_without_a_terminal_needs_yes(user):
    result = user.fbplan("apply", "--local", QUICKSTART)
    assert result.code != 0
    assert "--yes" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials_for_the_real_backend_are_one_clear_sentence(user):
    result = user.fbplan("plan", QUICKSTART)
    assert result.code == 1
    assert "FB_JWT" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_emulator_as_a_server_serves_plan_and_apply_over_http(user):
    import subprocess
    import sys

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fbplan",
            "emulator",
            "--port",
            "0",
            "--data",
            "emu.db",
            "--token",
            "e2e-token",
        ],
        cwd=user.cwd,
        env=user.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        backend = server.stdout.readline().split()[-1]
        assert backend.startswith("http://127.0.0.1:")
        user.env.update(FB_BACKEND_URL=backend, FB_JWT="e2e-token")
        assert user.fbplan("apply", "--yes", QUICKSTART).code == 0
        planned = user.fbplan("plan", "--detailed-exitcode", QUICKSTART)
        assert planned.code == 0, planned.stderr
        user.env["FB_JWT"] = "wrong-token"
        denied = user.fbplan("plan", QUICKSTART)
        assert denied.code == 1
        assert "HTTP 401" in denied.stderr and "wrong-token" not in denied.stderr
        assert f"Check FB_JWT: the backend at {backend} did not accept the token." in denied.stderr
    finally:
        server.terminate()
        server.communicate(timeout=10)  # also closes the pipes


def test_a_saved_plan_is_refused_when_a_value_it_read_changed(user):
    spec = user.cwd / QUICKSTART
    spec.write_text(spec.read_text().replace("region: us-east-1", "region: ${env:REGION}"))
    user.env["REGION"] = "us-east-1"
    assert user.fbplan("plan", "--local", "--out", "plan.json", QUICKSTART).code == 0
    user.env["REGION"] = "eu-west-1"
    moved = user.fbplan("apply", "--local", "--yes", "--plan", "plan.json")
    assert moved.code == 3
    # The plan shows `region: "${env:REGION}"`, never the value; the spec's digest holds a
    # slow hash of the values read, so the changed value is still noticed.
    assert "a value it reads with ${env:} or ${file:}, changed since the plan" in moved.stderr
    assert "us-east-1" not in (user.cwd / "plan.json").read_text()


def test_a_saved_plan_keeps_its_variables(user):
    spec = user.cwd / QUICKSTART
    spec.write_text(spec.read_text().replace("workspace: quickstart", "workspace: qs-${var:env}"))
    assert (
        user.fbplan("plan", "--local", "--var", "env=dev", "--out", "plan.json", QUICKSTART).code
        == 0
    )
    applied = user.fbplan("apply", "--local", "--yes", "--plan", "plan.json")
    assert applied.code == 0, applied.stderr
    assert 'fbplan plan for workspace "qs-dev"' in applied.stdout


def test_a_delete_without_allow_delete_is_refused_before_asking(user):
    assert user.fbplan("apply", "--local", "--yes", QUICKSTART).code == 0
    spec = user.cwd / QUICKSTART
    spec.write_text(
        spec.read_text().replace("    bucket: quickstart-media", "    bucket: quickstart-media-2")
    )
    result = user.fbplan("apply", "--local", QUICKSTART)  # no --yes, no terminal
    assert result.code == 3
    assert "--allow-delete" in result.stderr and "--yes" not in result.stderr


def test_usage_mistakes_exit_1_never_2(user):
    for args in (("drift", "--bogus", QUICKSTART), ("plan", "--var", "novalue", QUICKSTART)):
        result = user.fbplan(*args)
        assert result.code == 1, args
        assert "Traceback" not in result.stderr


def test_a_spec_with_keys_but_no_sink_is_warned_of_and_its_plan_blocked(user):
    spec = user.cwd / QUICKSTART
    spec.write_text(spec.read_text().split("# The repo key's secret")[0])
    validated = user.fbplan("validate", QUICKSTART)
    assert validated.code == 0 and "no secrets.sink" in validated.stderr
    planned = user.fbplan("plan", "--local", QUICKSTART)
    assert planned.code == 3
    assert "no secrets.sink" in planned.stdout


def test_an_unreachable_backend_is_named(user):
    user.env.update(FB_BACKEND_URL="http://127.0.0.1:9", FB_JWT="any")
    result = user.fbplan("plan", QUICKSTART)
    assert result.code == 1
    assert "got no response from http://127.0.0.1:9 (FB_BACKEND_URL)" in result.stderr


def test_warnings_are_shown_beside_errors(user):
    spec = user.cwd / "examples" / "warn.yaml"
    spec.write_text(
        "version: 1\nworkspace: w\nbuckets:\n"
        '  b: {bucket: x, storage_typ: S3, key: k, secret: "${env:NOPE_UNSET}"}\n'
    )
    result = user.fbplan("validate", "examples/warn.yaml")
    assert result.code == 1
    assert (
        "warning: examples/warn.yaml:4:51: buckets.b.secret: environment variable" in result.stderr
    )
    assert "buckets.b.storage_typ: unknown field" in result.stderr
