"""Values from `${env:}` and `${file:}` are never printed, even in fields that are not
secret: plans show the reference and whether it changed (issue 10, point 8).

Each test runs the CLI as a user would (`--local`, a fresh folder, a fresh redaction
registry as in a new process) and looks for the values in everything it printed or wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli
from fbplan.plan.planfile import load_plan
from fbplan.plan.render import render_text
from fbplan.secrets import values as secret
from fbplan.spec import load_spec

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

# The user swapped the two variables: `key` (not a secret field) gets the real secret.
REAL_SECRET = "wJalrXUtnFEMI-swapped-canary-K7MDENG"
KEY_ID = "AKIASWAPPEDCANARY01"
REGION = "eu-canary-1"
REGION_2 = "eu-canary-2"
FILE_VALUE = "canary-endpoint-from-file.example"

SPEC = """\
version: 1
workspace: sourced
provider_keys:
  aws:
    provider: "${env:PROVIDER}"
    key: "${env:AWS_SECRET_ACCESS_KEY}"
    secret: "${env:AWS_ACCESS_KEY_ID}"
    region: "${env:REGION}"
    endpoint: "https://${file:endpoint.txt}"
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(secret, "_known", set())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", REAL_SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("REGION", REGION)
    monkeypatch.setenv("PROVIDER", "AWS")  # normalized by the kind: still shown as written
    (tmp_path / "endpoint.txt").write_text(FILE_VALUE + "\n")
    (tmp_path / "spec.yaml").write_text(SPEC)
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_nowhere(results: dict[str, Result], folder: Path, *values: str) -> None:
    for name, result in results.items():
        for value in values:
            assert value not in result.stdout, (name, value)
            assert value not in result.stderr, (name, value)
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "endpoint.txt" and not path.name.startswith("local-"):
            text = path.read_bytes().decode("utf-8", "replace")
            for value in values:
                assert value not in text, (path, value)


def test_a_create_shows_each_reference_and_no_value(folder: Path) -> None:
    results = {
        "plan": run("plan", "--local", "spec.yaml", "--out", "plan.json"),
        "json": run("plan", "--local", "spec.yaml", "--format", "json"),
        "markdown": run("plan", "--local", "spec.yaml", "--format", "markdown"),
    }
    assert {name: r.exit_code for name, r in results.items()} == dict.fromkeys(results, 0)
    text = results["plan"].stdout
    assert 'key:      "${env:AWS_SECRET_ACCESS_KEY}"' in text
    assert 'region:   "${env:REGION}"' in text
    assert 'provider: "${env:PROVIDER}"' in text
    assert 'endpoint: "https://${file:endpoint.txt}"' in text
    assert "secret:   (sensitive)" in text
    after = json.loads(results["json"].stdout)["changes"][1]["after"]
    assert after["key"] == "${env:AWS_SECRET_ACCESS_KEY}" and after["region"] == "${env:REGION}"
    assert "${env:AWS_SECRET_ACCESS_KEY}" in results["markdown"].stdout
    saved = render_text(load_plan(folder / "plan.json"))  # what a saved plan shows later
    assert saved == text.split("Saved the plan")[0].rstrip("\n") + "\n"
    assert_nowhere(results, folder, REAL_SECRET, KEY_ID, REGION, FILE_VALUE)


def test_a_changed_value_shows_as_a_change_of_its_reference(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {"apply": run("apply", "--local", "--yes", "--no-smoke", "spec.yaml")}
    monkeypatch.setenv("REGION", REGION_2)
    results |= {
        "plan": run("plan", "--local", "--detailed-exitcode", "spec.yaml", "--out", "p.json"),
        "json": run("plan", "--local", "spec.yaml", "--format", "json"),
        "markdown": run("plan", "--local", "spec.yaml", "--format", "markdown"),
        "drift": run("drift", "--local", "spec.yaml"),
        "destroy": run("destroy", "--local", "--yes", "spec.yaml"),
    }
    codes = {name: r.exit_code for name, r in results.items()}
    assert codes == {
        "apply": 0,
        "plan": 2,
        "json": 0,
        "markdown": 0,
        "drift": 2,
        "destroy": 0,
    }, {n: r.output for n, r in results.items()}
    assert 'region: (sensitive) -> "${env:REGION}"' in results["plan"].stdout
    assert "provider_key.aws will be updated in place" in results["plan"].stdout
    change = json.loads(results["json"].stdout)["changes"][1]
    assert change["fields"] == [
        {"field": "region", "before": "(sensitive)", "after": "${env:REGION}", "sensitive": False}
    ]
    assert change["before"]["region"] == "(sensitive)"
    assert "- region: (sensitive)" in results["markdown"].stdout
    # The destroy plan lists the live key, whose `key` the backend returns in clear.
    assert "provider_key.aws will be destroyed" in results["destroy"].stdout
    assert_nowhere(results, folder, REAL_SECRET, KEY_ID, REGION, REGION_2, FILE_VALUE)


def test_an_unchanged_value_is_no_change(folder: Path) -> None:
    assert run("apply", "--local", "--yes", "--no-smoke", "spec.yaml").exit_code == 0
    again = run("plan", "--local", "--detailed-exitcode", "spec.yaml")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout


def test_the_spec_digest_notices_a_changed_value_without_holding_it(folder: Path) -> None:
    def digest(region: str) -> str:
        env = {"AWS_SECRET_ACCESS_KEY": REAL_SECRET, "AWS_ACCESS_KEY_ID": KEY_ID}
        env |= {"PROVIDER": "AWS", "REGION": region}
        return load_spec(folder / "spec.yaml", env=env).digest

    assert digest(REGION) == digest(REGION)
    assert digest(REGION) != digest(REGION_2)
