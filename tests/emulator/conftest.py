"""Fixtures for the emulator's own tests: a store, the backend app in-process, and a small
helper that creates resources with requests shaped exactly as the API contract
(`fbplan.contract`) and flashback-api.md say."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from flask import Flask

from fbplan.emulator.api import create_backend_app
from fbplan.emulator.faults import FaultInjector
from fbplan.emulator.store import Store

TOKEN = "emulator-test-token"
BASE_URL = "http://emulator"


@dataclass
class Api:
    """An authenticated client plus creators that assert success and return ids."""

    http: httpx.Client
    store: Store
    app: Flask
    counter: int = 0

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        if isinstance(body, dict) and "success" in body:
            assert body["success"] is True, body
        return body

    def fail(self, response: httpx.Response, status: int) -> dict[str, Any]:
        """Assert an error answer: status, JSON content type, ``success: false``."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["success"] is False, body
        return dict(body)

    def workspace(self, name: str | None = None) -> str:
        body = self.ok(self.http.post("/workspace", json={"name": name or self.unique("ws")}), 201)
        return str(body["workspace"]["id"])

    def provider_key(self, workspace_id: str, provider: str = "AWS", **extra: Any) -> str:
        payload = {"workspaceId": workspace_id, "provider": provider, "key": "AKIAEXAMPLE"}
        body = self.ok(self.http.post("/apikeys", json={**payload, "secret": "s3cr3t", **extra}))
        return str(body["apiKeyId"])

    def bucket(self, workspace_id: str, name: str | None = None, **extra: Any) -> str:
        """A bucket with inline credentials; an `extra` given as None leaves that field out
        (``key=None, secret=None, apiKeyUuid=key`` uses a provider key instead)."""
        name = name or self.unique("bucket")
        payload = {
            "name": name,
            "bucket": f"real-{name}",
            "storageType": "S3",
            "workspaceId": workspace_id,
            "key": "AKIAEXAMPLE",
            "secret": "bucket-secret",
            "region": "us-east-1",
            **extra,
        }
        payload = {field: value for field, value in payload.items() if value is not None}
        body = self.ok(self.http.post("/bucket", json=payload))
        return str(body["bucketId"])

    def repo(
        self,
        workspace_id: str,
        buckets: list[dict[str, Any]] | None = None,
        name: str | None = None,
        mode: str = "NORMAL",
        **extra: Any,
    ) -> str:
        payload = {
            "name": name or self.unique("repo"),
            "storageType": "S3",
            "mode": mode,
            "workspaceId": workspace_id,
            "repoBuckets": buckets or [],
        }
        body = self.ok(self.http.post("/repo", json={**payload, **extra}))
        return str(body["repoId"])

    def llm(self, workspace_id: str, name: str | None = None, **extra: Any) -> str:
        """An AI LLM config with inline credentials; an `extra` given as None leaves that
        field out (``secret=None, apiKeyUuid=key`` uses a provider key instead)."""
        payload = {
            "name": name or self.unique("llm"),
            "aiType": "OPENAI",
            "endpoint": "https://api.openai.com/v1",
            "secret": "sk-provider",
            "workspaceId": workspace_id,
            **extra,
        }
        payload = {field: value for field, value in payload.items() if value is not None}
        body = self.ok(self.http.post("/ai/llm", json=payload))
        return str(body["aiLlmId"])

    def get_repo(self, repo_id: str) -> dict[str, Any]:
        repos = self.ok(self.http.get("/repo", params={"repoId": repo_id}))["repos"]
        assert len(repos) == 1
        return dict(repos[0])


def wsgi_client(app: Any, token: str | None = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE_URL, headers=headers)


def call(api: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A request that must succeed (200 or 201); its JSON body."""
    response = api.request(method, path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(":memory:")
    yield store
    store.close()


@pytest.fixture
def faults() -> FaultInjector:
    return FaultInjector(seed=7, sleep=lambda _: None)


@pytest.fixture
def app(store: Store, faults: FaultInjector) -> Flask:
    return create_backend_app(store, TOKEN, faults)


@pytest.fixture
def api(app: Flask, store: Store) -> Iterator[Api]:
    with wsgi_client(app) as http:
        yield Api(http, store, app)


@pytest.fixture
def anonymous(app: Flask) -> Iterator[httpx.Client]:
    with wsgi_client(app, token=None) as http:
        yield http
