"""Golden files: each renderer's output for hand-built scenario plans.

The expected outputs live in `golden/<scenario>.<plan|drift>.<txt|json|md>`. After an
intended change of a renderer, regenerate them and review the diff:

    FBPLAN_UPDATE_GOLDEN=1 python -m pytest tests/unit/plan/test_render_golden.py

The JSON goldens double as plan-file fixtures (test_planfile.py loads them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fbplan.plan.model import Action, Blocker, Change, FieldChange, Plan, Unmanaged
from fbplan.plan.planfile import schema
from fbplan.plan.render import render_json, render_markdown, render_text
from fbplan.secrets.values import MASK

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FBPLAN_UPDATE_GOLDEN") == "1"
SPEC_DIGEST = "5f2b8c1e9a7d4e3b6c0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
LIVE_DIGEST = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"


def _plan(**kw: object) -> Plan:
    base: dict[str, object] = {
        "workspace": "acme-prod",
        "spec_digest": SPEC_DIGEST,
        "live_digest": LIVE_DIGEST,
        "spec_path": "specs/acme-prod.yaml",
    }
    return Plan(**(base | kw))  # type: ignore[arg-type]


def create_fresh_workspace() -> Plan:
    repo = {
        "storage_type": "S3",
        "mode": "NORMAL",
        "buckets": [{"bucket": "media", "folder": "media", "master": True}],
        "ai_llms": ["openai"],
    }
    return _plan(
        live_digest="",
        changes=[
            Change("workspace", "workspace", Action.CREATE, after={"name": "acme-prod"}),
            Change(
                "provider_key.aws-prod",
                "provider_key",
                Action.CREATE,
                after={
                    "provider": "AWS",
                    "key": "AKIAEXAMPLEKEYID",
                    "endpoint": None,
                    "region": "us-east-1",
                    "tenant_id": None,
                    "subscription_id": None,
                    "secret": MASK,
                },
            ),
            Change(
                "bucket.media",
                "bucket",
                Action.CREATE,
                after={
                    "bucket": "acme-media-prod",
                    "storage_type": "S3",
                    "provider_key": "aws-prod",
                    "region": "us-east-1",
                    "endpoint": None,
                },
                protect=True,
            ),
            Change(
                "ai_llm.openai",
                "ai_llm",
                Action.CREATE,
                after={"ai_type": "OPENAI", "endpoint": "https://api.openai.com/v1", "key": MASK},
            ),
            Change("repo.app", "repo", Action.CREATE, after=repo),
            Change(
                "repo.app.api_key.app-rw", "repo_api_key", Action.CREATE, after={"access": "WRITE"}
            ),
            Change(
                "repo.app.ai_api_key.app-ai",
                "repo_ai_api_key",
                Action.CREATE,
                after={"ai_type": "OPENAI"},
            ),
            Change(
                "policy.no-pii",
                "policy",
                Action.CREATE,
                after={
                    "scope": "repo:app",
                    "risk": "HIGH",
                    "action": "block",
                    "content": "Never send personal data to a model.",
                },
            ),
        ],
    )


def one_update() -> Plan:
    return _plan(
        changes=[
            _noop("workspace", "workspace", {"name": "acme-prod"}, "ws-1"),
            _noop("bucket.media", "bucket", {"bucket": "acme-media-prod"}, "b-1"),
            Change(
                "repo.app",
                "repo",
                Action.UPDATE,
                before={"storage_type": "S3", "mode": "NORMAL", "ai_llms": []},
                after={"storage_type": "S3", "mode": "MIRROR", "ai_llms": ["openai"]},
                fields=(
                    FieldChange("ai_llms", [], ["openai"]),
                    FieldChange("mode", "NORMAL", "MIRROR"),
                ),
                live_id="r-1",
            ),
        ],
        notes=[
            "provider_key.aws-prod: secret is untracked (no fingerprint recorded here); it is "
            "not planned as changed. Use --rotate provider_key.aws-prod to write it."
        ],
    )


def replace_key_new_credentials() -> Plan:
    return _plan(
        changes=[
            Change(
                "provider_key.aws-prod",
                "provider_key",
                Action.UPDATE,
                before={"provider": "AWS", "region": "us-east-1", "secret": MASK},
                after={"provider": "AWS", "region": "eu-west-1", "secret": MASK},
                fields=(
                    FieldChange("region", "us-east-1", "eu-west-1"),
                    FieldChange("secret", MASK, MASK, sensitive=True),
                ),
                live_id="pk-1",
            ),
            Change(
                "repo.app.api_key.app-rw",
                "repo_api_key",
                Action.REPLACE,
                before={"access": "WRITE"},
                after={"access": "WRITE"},
                reasons=("rotation requested (--rotate)",),
                new_credentials=True,
                live_id="k-1",
            ),
            Change(
                "repo.app.ai_api_key.app-ai",
                "repo_ai_api_key",
                Action.REPLACE,
                before={"ai_type": "OPENAI"},
                after={"ai_type": "ANTHROPIC"},
                fields=(FieldChange("ai_type", "OPENAI", "ANTHROPIC"),),
                reasons=("ai_type cannot change in place",),
                new_credentials=True,
                protect=True,
                live_id="ak-1",
            ),
        ],
        blockers=[
            Blocker(
                "protect",
                "repo.app.ai_api_key.app-ai has protect: true and would be replaced.",
                ("repo.app.ai_api_key.app-ai",),
            ),
            Blocker(
                "allow-delete",
                "2 replaces need --allow-delete.",
                ("repo.app.api_key.app-rw", "repo.app.ai_api_key.app-ai"),
            ),
        ],
    )


def prune_deletes_and_unmanaged() -> Plan:
    return _plan(
        changes=[
            _noop("workspace", "workspace", {"name": "acme-prod"}, "ws-1"),
            Change(
                "bucket.old-logs",
                "bucket",
                Action.DELETE,
                before={"bucket": "acme-logs-2019", "storage_type": "S3", "region": None},
                reasons=("not in the spec, and prune is on",),
                live_id="b-9",
            ),
            Change(
                "repo.legacy",
                "repo",
                Action.DELETE,
                before={"storage_type": "S3", "mode": "NORMAL", "buckets": [], "ai_llms": []},
                reasons=("not in the spec, and prune is on",),
                live_id="r-9",
            ),
            Change(
                "repo.legacy.api_key.ci",
                "repo_api_key",
                Action.DELETE,
                before={"access": "READ"},
                reasons=("deleted with repo.legacy",),
                live_id="k-9",
            ),
        ],
        unmanaged=[
            Unmanaged("provider_key.id:7d3f0c2e", "provider_key", "7d3f0c2e", prunable=False),
            Unmanaged("ai_llm.scratch", "ai_llm", "l-4"),
        ],
        notes=["prune is on for buckets and repos: their unnamed objects are planned as deletes."],
        blockers=[
            Blocker(
                "threshold",
                "repos: 1 of 2 objects would be deleted (more than a third); add --force.",
                ("repo.legacy",),
            )
        ],
    )


def _noop(address: str, kind: str, attrs: dict[str, object], live_id: str) -> Change:
    return Change(address, kind, Action.NOOP, before=attrs, after=attrs, live_id=live_id)


SCENARIOS: dict[str, Callable[[], Plan]] = {
    "create-fresh-workspace": create_fresh_workspace,
    "one-update": one_update,
    "replace-key-new-credentials": replace_key_new_credentials,
    "prune-deletes-and-unmanaged": prune_deletes_and_unmanaged,
}
RENDERERS: dict[str, Callable[[Plan, bool], str]] = {
    "txt": lambda plan, drift: render_text(plan, drift=drift),
    "json": lambda plan, drift: render_json(plan, drift=drift),
    "md": lambda plan, drift: render_markdown(plan, drift=drift),
}


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with FBPLAN_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("ext", sorted(RENDERERS))
@pytest.mark.parametrize("mode", ["plan", "drift"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_golden(scenario: str, mode: str, ext: str) -> None:
    output = RENDERERS[ext](SCENARIOS[scenario](), mode == "drift")
    check_golden(f"{scenario}.{mode}.{ext}", output)


def test_golden_text_in_colour() -> None:
    check_golden("one-update.plan.color.txt", render_text(one_update(), color=True))


@pytest.mark.parametrize("mode", ["plan", "drift"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_json_matches_the_schema(scenario: str, mode: str) -> None:
    document = json.loads(render_json(SCENARIOS[scenario](), drift=mode == "drift"))
    Draft202012Validator(schema()).validate(document)
    assert document["kind"] == mode


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
