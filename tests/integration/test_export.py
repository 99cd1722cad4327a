"""`fbplan export` against the emulator: the exported spec of a workspace with every kind is
valid and plans no change; objects the spec cannot name are left out with what hangs on
them; and the CLI command on an embedded emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from fbplan.backend.live import read_live
from fbplan.cli.main import cli
from fbplan.export import export_spec
from fbplan.model import Resource, State
from fbplan.secrets.envnames import env_name
from fbplan.spec import load_spec

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

WORKSPACE = "exported"
SECRETS = {  # the value of each write-only secret, by the variable the spec reads it from
    "EX_AWS_SECRET": "export-aws-secret-1111",
    "EX_AZURE_SECRET": "export-azure-secret-2222",
    "EX_OPENAI_SECRET": "sk-export-openai-3333",
    "EX_BUCKET_SECRET": "export-bucket-secret-4444",
    "EX_LLM_SECRET": "sk-export-llm-5555",
    "EX_DOOMED_SECRET": "export-doomed-secret-6666",
}
EXPORTED_AS = {  # the variable the exported spec reads each of them from
    "FB_PROVIDER_KEY_AWS_SECRET": "EX_AWS_SECRET",
    "FB_PROVIDER_KEY_AZURE_SECRET": "EX_AZURE_SECRET",
    "FB_PROVIDER_KEY_OPENAI_SECRET": "EX_OPENAI_SECRET",
    "FB_BUCKET_LOGS_SECRET": "EX_BUCKET_SECRET",
    "FB_AI_LLM_GPT_SECRET": "EX_LLM_SECRET",
}
CONTENT_WITH_ID = "Refuse a request whose id: field names another customer."

SPEC: dict[str, Any] = {
    "version": 1,
    "workspace": WORKSPACE,
    "provider_keys": {
        "aws": {
            "provider": "AWS",
            "key": "AKIAEXPORTAWS",
            "secret": "${env:EX_AWS_SECRET}",
            "region": "us-east-1",
        },
        "azure": {
            "provider": "AZURE",
            "key": "exportaccount",
            "secret": "${env:EX_AZURE_SECRET}",
            "tenant_id": "tenant-1",
            "subscription_id": "subscription-1",
        },
        "openai": {"provider": "OPENAI", "key": "org-export", "secret": "${env:EX_OPENAI_SECRET}"},
    },
    "buckets": {
        "media": {
            "bucket": "export-media",
            "storage_type": "S3",
            "provider_key": "aws",
            "region": "us-east-1",
        },
        "logs": {
            "bucket": "export-logs",
            "storage_type": "S3",
            "region": "us-east-1",
            "key": "AKIAEXPORTINLINE",
            "secret": "${env:EX_BUCKET_SECRET}",
        },
    },
    "ai_llms": {
        "gpt": {
            "ai_type": "OPENAI",
            "endpoint": "https://api.openai.com/v1",
            "secret": "${env:EX_LLM_SECRET}",
        },
        "claude": {"ai_type": "ANTHROPIC", "provider_key": "openai"},
    },
    "repos": {
        "app": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [
                {"bucket": "media", "folder": "media", "master": True},
                {"bucket": "logs", "folder": "logs"},
            ],
            "ai_llms": ["claude", "gpt"],
            "api_keys": {"app-rw": {"access": "WRITE"}, "app-ro": {"access": "READ"}},
            "ai_api_keys": {"app-ai": {"ai_type": "OPENAI"}},
        }
    },
    "policies": {
        "org-wide": {"scope": "organization", "risk": "LOW", "action": "log", "content": "a"},
        "ws": {"scope": "workspace", "risk": "MEDIUM", "action": "alert", "content": "b"},
        "app-only": {
            "scope": "repo:app",
            "risk": "HIGH",
            "action": "block",
            "content": CONTENT_WITH_ID,
        },
    },
    "secrets": {"sink": {"type": "json", "path": "secrets.json"}},
}

# A second spec for the same workspace, whose provider key then loses its description:
# the key has no name the spec can use, and everything hanging on it must be left out.
ORPHANS: dict[str, Any] = {
    "version": 1,
    "workspace": WORKSPACE,
    "provider_keys": {
        "doomed": {"provider": "AWS", "key": "AKIADOOMED", "secret": "${env:EX_DOOMED_SECRET}"}
    },
    "buckets": {
        "orphan-media": {
            "bucket": "export-orphan",
            "storage_type": "S3",
            "provider_key": "doomed",
            "region": "us-east-1",
        }
    },
    "repos": {
        "orphan": {
            "storage_type": "S3",
            "mode": "NORMAL",
            "buckets": [{"bucket": "orphan-media", "folder": "m", "master": True}],
            "api_keys": {"orphan-rw": {"access": "WRITE"}},
        }
    },
    "policies": {
        "orphan-policy": {"scope": "repo:orphan", "risk": "LOW", "action": "log", "content": "d"}
    },
    "secrets": {"sink": {"type": "json", "path": "orphan-secrets.json"}},
}


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def apply(harness: Any, spec: dict[str, Any], name: str) -> None:
    report = harness.apply(harness.write(yaml.safe_dump(spec, sort_keys=False), name))
    assert report.ok, [(str(r.step), r.message) for r in report.results if r.status != "done"]


def export_to(harness: Any, folder: str) -> tuple[str, Path]:
    text = export_spec(read_live(harness.api(), WORKSPACE, generate_keys=True))
    path = harness.root / folder / "spec.yaml"
    path.parent.mkdir()
    path.write_text(text)
    return text, path


def left_out(text: str, count: int) -> list[str]:
    """The `count` lines of the export's "Left out" comment, from its title."""
    lines = text.splitlines()
    start = lines.index("# Left out (the spec cannot name them):")
    return lines[start : start + count]


def test_the_export_points_to_fbplans_schema_without_inventing_a_url() -> None:
    live = State(WORKSPACE)
    live.add(Resource("workspace", "workspace", WORKSPACE, {"name": WORKSPACE}, id="w1"))
    text = export_spec(live)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "://" not in text
    assert not [line for line in comments if re.match(r"#\s+yaml-language-server\s*:", line)]
    assert comments == [
        f"# Exported from workspace {WORKSPACE} by fbplan export.",
        "# To have an editor complete and check this file (yaml-language-server), put this as",
        "# its first line, with the path from this file to fbplan's schemas/fbplan.schema.json:",
        "#   # yaml-language-server: $schema=../schemas/fbplan.schema.json",
    ]
    assert yaml.safe_load(text) == {"version": 1, "workspace": WORKSPACE}


def test_an_exported_workspace_with_every_kind_loads_and_plans_no_change(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(harness, SPEC, "spec.yaml")
    text, path = export_to(harness, "exported")
    exported = yaml.safe_load(text)
    assert exported["policies"]["app-only"]["content"] == CONTENT_WITH_ID
    assert list(exported)[2:] == [
        "provider_keys",
        "buckets",
        "ai_llms",
        "repos",
        "policies",
        "members",  # you, as the workspace's creator
    ]
    assert set(exported["repos"]["app"]["api_keys"]) == {"app-rw", "app-ro"}
    assert "Left out" not in text
    for value in SECRETS.values():
        assert value not in text
    for name, original in EXPORTED_AS.items():
        assert "${env:" + name + "}" in text
        monkeypatch.setenv(name, SECRETS[original])
    loaded = load_spec(path)
    assert loaded.workspace_name == WORKSPACE and loaded.warnings == []
    plan = harness.plan(path)
    assert plan.actionable == (), [(c.address, c.action, c.fields) for c in plan.actionable]
    assert plan.unmanaged == ()


def test_a_provider_key_without_a_description_is_adopted_by_id_with_what_hangs_on_it(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(harness, SPEC, "spec.yaml")
    apply(harness, ORPHANS, "orphans.yaml")
    workspace_id = read_live(harness.api(), WORKSPACE).workspace_id
    keys = harness.api().get("/apikeys", params={"workspaceId": workspace_id})
    doomed = next(k for k in keys["apiKeys"] if k.get("description") == "doomed")
    harness.api().put(f"/apikeys/{doomed['id']}", json={"description": ""})
    text, path = export_to(harness, "exported")
    assert "Left out" not in text
    exported = yaml.safe_load(text)
    made_up = f"provider_key-{doomed['id'][:8]}"
    assert exported["provider_keys"][made_up]["match"] == {"id": doomed["id"]}
    assert "name" not in exported["provider_keys"][made_up]
    assert exported["buckets"]["orphan-media"]["provider_key"] == made_up
    assert set(exported["repos"]) == {"app", "orphan"}
    for name, original in EXPORTED_AS.items():
        monkeypatch.setenv(name, SECRETS[original])
    monkeypatch.setenv(env_name("FB", f"provider_key.{made_up}", "secret"), "doomed")
    load_spec(path)
    plan = harness.plan(path)
    assert plan.actionable == (), [(c.address, c.action, c.fields) for c in plan.actionable]
    assert plan.unmanaged == ()


def test_a_repo_attaching_an_object_known_only_by_id_is_left_out_with_its_keys() -> None:
    live = State(WORKSPACE)
    live.add(Resource("workspace", "workspace", WORKSPACE, {"name": WORKSPACE}, id="w1"))
    attachment = {"bucket": "id:b9", "folder": "x", "master": True}
    repo = {"storage_type": "S3", "mode": "NORMAL", "buckets": [attachment], "ai_llms": []}
    live.add(Resource("repo", "repo.shared", "shared", repo, id="r1"))
    key = Resource(
        "repo_api_key", "repo.shared.api_key.rw", "rw", {"access": "WRITE"}, parent="repo.shared"
    )
    live.add(key)
    text = export_spec(live)
    assert left_out(text, 3) == [
        "# Left out (the spec cannot name them):",
        "#   repo.shared: it refers by id to bucket b9",
        "#   repo.shared.api_key.rw: its repo repo.shared is left out",
    ]
    assert yaml.safe_load(text) == {"version": 1, "workspace": WORKSPACE}


def test_the_export_command_prints_the_spec_of_a_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_in_process: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    runner = CliRunner()
    applied = runner.invoke(cli, ["apply", "--yes", "--no-smoke", str(spec)])
    assert applied.exit_code == 0, applied.output
    result = runner.invoke(cli, ["export", "--workspace", WORKSPACE])
    assert result.exit_code == 0, result.output
    exported = yaml.safe_load(result.stdout)
    assert exported["workspace"] == WORKSPACE
    assert set(exported["repos"]["app"]["ai_api_keys"]) == {"app-ai"}
    for value in SECRETS.values():
        assert value not in result.output


def test_the_export_command_on_an_unknown_workspace_exits_1_with_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_in_process: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["export", "--workspace", "nowhere"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: no workspace named nowhere is visible to this token"
    ]
