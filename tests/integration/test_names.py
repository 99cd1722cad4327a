"""A spec key and a backend name that differ (`name:`), on the emulator: objects named in the
console with names that are not valid spec keys are exported under a valid key plus
`name:`, and the exported spec plans no change; a spec's `name:` creates and matches the
object under that name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fbplan.backend.live import read_live
from fbplan.errors import SpecError
from fbplan.export import export_spec
from fbplan.spec import load_spec

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

WORKSPACE = "console team"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAMES_AWS_SECRET", "names-aws-secret-7777")


def console_objects(harness: Any) -> dict[str, str]:
    """A workspace made by fbplan, then objects made through the API as the console would,
    with names no spec key can spell; their ids by name."""
    spec = harness.write(f"version: 1\nworkspace: {WORKSPACE}\n", "workspace.yaml")
    assert harness.apply(spec).ok
    api = harness.api()
    workspace_id = read_live(api, WORKSPACE).workspace_id
    key = api.post(
        "/apikeys",
        json={
            "workspaceId": workspace_id,
            "provider": "OPENAI",
            "key": "org-console",
            "secret": "names-aws-secret-7777",
            "description": "console made this",
        },
    )["apiKeyId"]
    llm = {"name": "my llm", "aiType": "OPENAI", "workspaceId": workspace_id, "apiKeyUuid": key}
    return {"console made this": key, "my llm": api.post("/ai/llm", json=llm)["aiLlmId"]}


def export_to(harness: Any, folder: str) -> tuple[dict[str, Any], Path]:
    text = export_spec(read_live(harness.api(), WORKSPACE, generate_keys=True))
    path = harness.root / folder / "spec.yaml"
    path.parent.mkdir()
    path.write_text(text)
    return yaml.safe_load(text), path


def test_console_names_are_exported_with_name_and_the_export_plans_no_change(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    console_objects(harness)
    exported, path = export_to(harness, "exported")
    assert exported["provider_keys"]["console-made-this"]["name"] == "console made this"
    assert exported["ai_llms"]["my-llm"] == {
        "name": "my llm",
        "ai_type": "OPENAI",
        "provider_key": "console-made-this",
    }
    monkeypatch.setenv("FB_PROVIDER_KEY_CONSOLE_MADE_THIS_SECRET", "names-aws-secret-7777")
    load_spec(path)  # the export is a valid spec
    plan = harness.plan(path)
    assert plan.actionable == (), [(c.address, c.action, c.fields) for c in plan.actionable]
    assert plan.unmanaged == ()


def test_a_spec_name_creates_and_matches_the_object_under_that_name(harness: Any) -> None:
    spec = harness.write(
        f"""\
        version: 1
        workspace: {WORKSPACE}
        provider_keys:
          openai:
            name: shared by the data team
            provider: OPENAI
            key: org-data
            secret: ${{env:NAMES_AWS_SECRET}}
        ai_llms:
          chat:
            name: Chat (GPT) model
            ai_type: OPENAI
            provider_key: openai
        """
    )
    plan = harness.plan(spec)
    assert {c.address for c in plan.actionable} == {
        "workspace",
        "provider_key.openai",
        "ai_llm.chat",
    }
    assert harness.apply(spec).ok
    live = read_live(harness.api(), WORKSPACE)
    assert {r.name for r in live} >= {"shared by the data team", "Chat (GPT) model"}
    assert harness.plan(spec).actionable == ()


def test_two_entries_naming_one_backend_object_are_rejected_at_their_line(
    harness: Any,
) -> None:
    spec = harness.write(
        f"""\
        version: 1
        workspace: {WORKSPACE}
        ai_llms:
          chat:
            ai_type: OPENAI
            endpoint: https://api.openai.com/v1
            secret: ${{env:NAMES_AWS_SECRET}}
          chat-2:
            name: chat
            ai_type: OPENAI
            endpoint: https://api.openai.com/v1
            secret: ${{env:NAMES_AWS_SECRET}}
        """
    )
    with pytest.raises(SpecError) as raised:
        load_spec(spec)
    assert str(raised.value).splitlines() == [
        f"{spec}:9:11: ai_llms.chat-2.name: ai_llms.chat-2 and ai_llms.chat both name the "
        "AI LLM configuration named 'chat' in the backend; give each its own"
    ]


def test_an_object_named_like_the_key_of_a_renamed_entry_is_not_that_entry(
    harness: Any,
) -> None:
    body = "ai_type: OPENAI\n    endpoint: https://api.openai.com/v1\n    secret: ${env:NAMES_AWS_SECRET}"
    first = harness.write(f"version: 1\nworkspace: {WORKSPACE}\nai_llms:\n  chat:\n    {body}\n")
    assert harness.apply(first).ok
    renamed = harness.write(
        f"version: 1\nworkspace: {WORKSPACE}\nprune: true\n"
        f"ai_llms:\n  chat:\n    name: Chat model\n    {body}\n",
        "renamed.yaml",
    )
    plan = harness.plan(renamed)
    assert sorted((c.address, c.action) for c in plan.actionable) == [
        ("ai_llm.chat", "create"),
        ("ai_llm.name:chat", "delete"),
    ]
    assert harness.apply(renamed, allow_delete=True).ok
    assert [r.name for r in read_live(harness.api(), WORKSPACE).of_kind("ai_llm")] == ["Chat model"]
    assert harness.plan(renamed).actionable == ()


def test_two_entries_matching_one_id_are_rejected_at_their_line(harness: Any) -> None:
    entry = "provider: AWS\n    key: k\n    secret: ${env:NAMES_AWS_SECRET}\n    match: {id: abc}"
    spec = harness.write(
        f"version: 1\nworkspace: {WORKSPACE}\nprovider_keys:\n"
        f"  one:\n    {entry}\n  two:\n    {entry}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_spec(spec)
    assert str(raised.value).splitlines() == [
        f"{spec}:13:17: provider_keys.two.match.id: provider_keys.two and provider_keys.one "
        "both name the provider key with id 'abc' in the backend; give each its own"
    ]


def test_renamed_from_renames_in_place_as_an_update(harness: Any) -> None:
    before = harness.write(
        f"""\
        version: 1
        workspace: {WORKSPACE}
        provider_keys:
          openai: {{provider: OPENAI, key: org-data, secret: "${{env:NAMES_AWS_SECRET}}"}}
        ai_llms:
          chat: {{ai_type: OPENAI, provider_key: openai}}
        repos:
          app: {{storage_type: S3, mode: NORMAL, ai_llms: [chat]}}
        """
    )
    assert harness.apply(before).ok
    ids = read_live(harness.api(), WORKSPACE).ids()
    after = harness.write(
        f"""\
        version: 1
        workspace: {WORKSPACE}
        prune: true
        provider_keys:
          openai:
            name: data team key
            renamed_from: openai
            provider: OPENAI
            key: org-data
            secret: ${{env:NAMES_AWS_SECRET}}
        ai_llms:
          assistant: {{renamed_from: chat, ai_type: OPENAI, provider_key: openai}}
        repos:
          app: {{name: the app, renamed_from: app, storage_type: S3, mode: NORMAL, ai_llms: [assistant]}}
        """,
        "renamed.yaml",
    )
    plan = harness.plan(after)
    changes = {c.address: c for c in plan.actionable}
    assert {a: c.action for a, c in changes.items()} == {
        "provider_key.openai": "update",
        "ai_llm.assistant": "update",
        "repo.app": "update",
    }
    assert [(f.field, f.before, f.after) for f in changes["ai_llm.assistant"].fields] == [
        ("name", "chat", "assistant")
    ]
    assert ("name", "openai", "data team key") in [
        (f.field, f.before, f.after) for f in changes["provider_key.openai"].fields
    ]
    assert harness.apply(after, allow_delete=True).ok
    live = read_live(harness.api(), WORKSPACE)
    assert {r.address: r.name for r in live if r.kind not in ("workspace", "workspace_member")} == {
        "provider_key.data team key": "data team key",
        "ai_llm.assistant": "assistant",
        "repo.the app": "the app",
    }
    assert live.ids()["ai_llm.assistant"] == ids["ai_llm.chat"]  # the same object, renamed
    assert live.ids()["repo.the app"] == ids["repo.app"]
    assert harness.plan(after).actionable == ()
