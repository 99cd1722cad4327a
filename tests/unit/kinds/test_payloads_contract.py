"""Every request body a kind builds (create, update, delete) conforms to the API contract.

The kinds run against a recording stand-in for the backend client that checks each request
with `fbplan.contract` and answers with the ids a kind reads back. Updates run against live
twins that still hold every optional field the spec leaves out, so the bodies that clear a
field are checked too.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fbplan import contract
from fbplan.kinds import KINDS, REGISTRY
from fbplan.kinds.base import ApplyContext
from fbplan.model import Resource
from fbplan.spec.build import build_desired
from fbplan.spec.loader import load_spec

FIXTURES = Path(__file__).parents[1] / "spec" / "fixtures"
ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAFIXTURE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-fixture",
    "OPENAI_API_KEY": "sk-fixture",
}
MINIMAL = """\
version: 1
workspace: acme
provider_keys:
  aws: {provider: AWS, key: AKIA, secret: "${env:AWS_SECRET_ACCESS_KEY}"}
buckets:
  media: {bucket: acme-media, storage_type: S3, provider_key: aws, region: us-east-1}
ai_llms:
  gpt: {ai_type: OPENAI, provider_key: aws}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    api_keys: {rw: {access: WRITE}}
    ai_api_keys: {ai: {ai_type: OPENAI}}
    cloud_keys: {aws: }
policies:
  org: {scope: organization, risk: LOW, action: log, content: "Log."}
  ws: {scope: workspace, risk: MEDIUM, action: alert, content: "Alert."}
  repo: {scope: "repo:app", risk: HIGH, action: block, content: "Block."}
members:
  ana@example.com: {role: READ}
secrets:
  sink: {type: dotenv, path: .fbplan/secrets.env}
"""


class ContractApi:
    """Checks every request against the contract; answers with fresh ids."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self._ids = itertools.count(1)

    def _check(
        self,
        method: str,
        path: str,
        body: Any = contract.NO_BODY,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        endpoint = contract.load().find(method, path)
        assert endpoint is not None, f"{method} {path} is not in the contract"
        problems = endpoint.request_problems(query or {}, body)
        assert problems == [], f"{method} {path}: {'; '.join(map(str, problems))}"
        self.sent.append((method, path, body))
        new_id = f"id-{next(self._ids)}"
        return {
            "success": True,
            "id": new_id,
            "key": "KEYID",
            "secret": "one-time",
            "workspace": {"id": new_id},
            "policy": {"id": new_id},
            "workspaces": [],  # a workspace create reads its name back
            "data": [{"id": "user-ana", "email": "ana@example.com"}],  # organization users
            **{field: new_id for field in ("apiKeyId", "bucketId", "aiLlmId", "repoId")},
        }

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        return self._check("GET", path, query=query)

    def post(self, path: str, *, json: Any = None) -> Any:
        return self._check("POST", path, json)

    def put(self, path: str, *, json: Any = None) -> Any:
        return self._check("PUT", path, json)

    def delete(self, path: str) -> Any:
        return self._check("DELETE", path)


def _desired(spec_path: Path) -> list[Resource]:
    spec = load_spec(spec_path, env=ENV)
    return list(build_desired(spec.data))


def _context(api: ContractApi, resources: list[Resource]) -> ApplyContext:
    ids = {resource.address: f"live-{index}" for index, resource in enumerate(resources)}
    return ApplyContext(api, "org-1", ids=ids)


def _live_twin(resource: Resource) -> Resource:
    """The live object as it might be: every optional field the spec leaves out is set."""
    attrs = {k: ("old-value" if v is None else v) for k, v in resource.attrs.items()}
    return dataclasses.replace(resource, attrs=attrs, secrets={}, id="live-id")


@pytest.fixture(params=["valid-full", "minimal"])
def resources(request: pytest.FixtureRequest, tmp_path: Path) -> list[Resource]:
    if request.param == "valid-full":
        return _desired(FIXTURES / "valid-full.yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text(MINIMAL)
    return _desired(spec)


def test_creates_conform(resources: list[Resource]) -> None:
    api = ContractApi()
    ctx = _context(api, resources)
    for resource in resources:
        REGISTRY[resource.kind].create(ctx, resource)
    assert {kind.name for kind in KINDS} <= {r.kind for r in resources}
    assert len([sent for sent in api.sent if sent[0] == "POST"]) == len(resources)


def test_updates_conform_including_cleared_fields(resources: list[Resource]) -> None:
    api = ContractApi()
    ctx = _context(api, resources)
    for resource in resources:
        REGISTRY[resource.kind].update(ctx, resource, _live_twin(resource))
    assert len(api.sent) == len([r for r in resources if r.attrs])  # a link has nothing to change


def test_deletes_conform(resources: list[Resource]) -> None:
    api = ContractApi()
    ctx = _context(api, resources)
    for resource in resources:
        REGISTRY[resource.kind].delete(ctx, dataclasses.replace(resource, id="live-id"))
    assert all(body is contract.NO_BODY for _, _, body in api.sent)


def test_repo_storage_key_create_sends_the_repo_id() -> None:
    api = ContractApi()
    key = Resource(
        "repo_api_key", "repo.app.api_key.rw", "rw", {"access": "READ"}, parent="repo.app"
    )
    REGISTRY["repo_api_key"].create(ApplyContext(api, "org", ids={"repo.app": "r-1"}), key)
    assert api.sent == [
        ("POST", "/repo/r-1/apikey", {"repoId": "r-1", "name": "rw", "accessType": "READ"})
    ]


def test_provider_key_update_clears_with_empty_strings_not_null() -> None:
    api = ContractApi()
    desired = Resource(
        "provider_key", "provider_key.aws", "aws", {"provider": "AWS", "key": "AKIA"}
    )
    live = dataclasses.replace(
        desired, attrs={"provider": "AWS", "key": "AKIA", "endpoint": "https://s3.example"}
    )
    REGISTRY["provider_key"].update(ApplyContext(api, "org"), desired, _with_id(live))
    assert api.sent == [
        (
            "PUT",
            "/apikeys/live-id",
            {"provider": "AWS", "key": "AKIA", "endpoint": "", "description": "aws"},
        )
    ]


def _with_id(resource: Resource) -> Resource:
    return dataclasses.replace(resource, id="live-id")
