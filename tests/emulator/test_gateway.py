"""The emulator's OpenAI-compatible AI gateway, driven by the official ``openai`` SDK.

Fixture data is created through the emulator's management API (in-process, httpx's WSGI
transport); the gateway runs on a werkzeug server on an ephemeral port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from werkzeug.serving import make_server

from fbplan.emulator.api import create_backend_app
from fbplan.emulator.gateway import (
    count_tokens,
    create_gateway_app,
    evaluate_policies,
    models_for_llm,
    quoted_phrases,
)
from fbplan.emulator.store import Store
from tests.emulator.conftest import call, wsgi_client

TOKEN = "gateway-test-token"
HELLO = [{"role": "user", "content": "Hello gateway, how are you?"}]


@dataclass
class Setup:
    """A workspace with a repo that has an OPENAI LLM attached, and one without any LLM."""

    org_id: str
    workspace_id: str
    repo_id: str
    llm_id: str
    ai_key: dict[str, Any]
    storage_key: dict[str, Any]
    bare_ai_key: dict[str, Any]


@pytest.fixture
def api(store: Store) -> Iterator[httpx.Client]:
    with wsgi_client(create_backend_app(store, TOKEN), TOKEN) as client:
        yield client


def create_repo(api: httpx.Client, workspace: str, name: str, llms: list[str]) -> str:
    body = {
        "name": name,
        "storageType": "S3",
        "mode": "NORMAL",
        "workspaceId": workspace,
        "repoBuckets": [],
        "repoAiLlms": [{"aiLlmId": llm} for llm in llms],
    }
    return call(api, "POST", "/repo", body)["repoId"]


@pytest.fixture
def setup(api: httpx.Client) -> Setup:
    org = call(api, "GET", "/user/profile")["data"]["orgId"]
    workspace = call(api, "POST", "/workspace", {"name": "ai-ws"})["workspace"]["id"]
    llm_body = {
        "name": "openai-main",
        "aiType": "OPENAI",
        "endpoint": "https://api.openai.com/v1",
        "secret": "sk-provider-secret",
        "workspaceId": workspace,
    }
    llm = call(api, "POST", "/ai/llm", llm_body)["aiLlmId"]
    repo = create_repo(api, workspace, "chat-repo", [llm])
    bare = create_repo(api, workspace, "bare-repo", [])
    ai_body = {"name": "app-ai", "aiType": "OPENAI"}
    return Setup(
        org_id=org,
        workspace_id=workspace,
        repo_id=repo,
        llm_id=llm,
        ai_key=call(api, "POST", f"/repo/{repo}/ai/apikey", ai_body),
        storage_key=call(
            api,
            "POST",
            f"/repo/{repo}/apikey",
            {"repoId": repo, "name": "rw", "accessType": "WRITE"},
        ),
        bare_ai_key=call(api, "POST", f"/repo/{bare}/ai/apikey", ai_body),
    )


@pytest.fixture
def gateway(store: Store) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_gateway_app(store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def client(gateway: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway, api_key=api_key, max_retries=0, timeout=10)


def add_policy(api: httpx.Client, setup: Setup, content: str, action: int, **scope: Any) -> None:
    body = {
        "orgId": setup.org_id,
        "name": f"policy-{action}",
        "content": content,
        "riskType": "HIGH" if action == 2 else "MEDIUM",
        "actionType": action,
        "workspaceId": setup.workspace_id,
        "repoId": None,
        **scope,
    }
    call(api, "POST", "/policy", body)


def llm_stats(api: httpx.Client, setup: Setup) -> dict[str, str]:
    return call(api, "GET", f"/ai/llm/stats?aiLlmId={setup.llm_id}")["stats"][0]


# -- models and completions -------------------------------------------------------------------


def test_lists_the_models_of_the_attached_llm(gateway: str, setup: Setup) -> None:
    models = client(gateway, setup.ai_key["secret"]).models.list()
    assert [m.id for m in models] == ["gpt-4o-mini", "gpt-4o"]


def test_chat_completion_is_deterministic_and_counted(
    gateway: str, setup: Setup, api: httpx.Client
) -> None:
    sdk = client(gateway, setup.ai_key["secret"])
    first = sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
    second = sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]

    content = first.choices[0].message.content
    assert content
    assert "Hello gateway, how are you?" in content
    assert second.choices[0].message.content == content
    assert first.usage is not None
    assert first.usage.prompt_tokens == 5
    assert first.usage.completion_tokens == count_tokens(content)

    stats = llm_stats(api, setup)
    assert stats["totalApiCalls"] == "2"
    assert stats["totalTokensIn"] == "10"
    assert stats["totalPolicyViolations"] == "0"


def test_streaming_completion(gateway: str, setup: Setup) -> None:
    stream = client(gateway, setup.ai_key["secret"]).chat.completions.create(
        model="gpt-4o",
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Hello gateway, how are you?" in text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 5


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["key", "secret"])
def test_storage_key_is_rejected(gateway: str, setup: Setup, part: str) -> None:
    with pytest.raises(openai.AuthenticationError) as excinfo:
        client(gateway, setup.storage_key[part]).models.list()
    assert excinfo.value.code == "invalid_api_key"


def test_ai_key_id_is_not_the_bearer_token(gateway: str, setup: Setup) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(gateway, setup.ai_key["key"]).models.list()


def test_missing_token_is_401_in_openai_format(gateway: str) -> None:
    response = httpx.post(f"{gateway}/chat/completions", json={"model": "gpt-4o"})
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_deleted_ai_key_is_rejected(gateway: str, setup: Setup, api: httpx.Client) -> None:
    call(api, "DELETE", f"/repo/{setup.repo_id}/ai/apikey/{setup.ai_key['id']}")
    with pytest.raises(openai.AuthenticationError):
        client(gateway, setup.ai_key["secret"]).models.list()


# -- models not offered -----------------------------------------------------------------------


def test_unknown_model_is_404(gateway: str, setup: Setup) -> None:
    with pytest.raises(openai.NotFoundError) as excinfo:
        client(gateway, setup.ai_key["secret"]).chat.completions.create(
            model="claude-3-5-sonnet",
            messages=HELLO,  # type: ignore[arg-type]
        )
    assert excinfo.value.code == "model_not_found"


def test_repo_without_llm_is_404_naming_the_cause(gateway: str, setup: Setup) -> None:
    with pytest.raises(openai.NotFoundError) as excinfo:
        client(gateway, setup.bare_ai_key["secret"]).chat.completions.create(
            model="gpt-4o",
            messages=HELLO,  # type: ignore[arg-type]
        )
    assert excinfo.value.code == "no_llm_attached"
    assert "no AI LLM configuration attached" in excinfo.value.message


def test_url_without_v1_is_404(gateway: str, setup: Setup) -> None:
    with pytest.raises(openai.NotFoundError):
        client(gateway.removesuffix("/v1"), setup.ai_key["secret"]).models.list()


# -- policies ---------------------------------------------------------------------------------


def test_block_policy_blocks_the_quoted_phrase(
    gateway: str, setup: Setup, api: httpx.Client
) -> None:
    add_policy(api, setup, 'Never mention "project falcon".', 2)
    messages = [{"role": "user", "content": "Tell me about PROJECT   Falcon please"}]

    with pytest.raises(openai.BadRequestError) as excinfo:
        client(gateway, setup.ai_key["secret"]).chat.completions.create(
            model="gpt-4o",
            messages=messages,  # type: ignore[arg-type]
        )

    assert excinfo.value.code == "policy_violation"
    stats = llm_stats(api, setup)
    assert (stats["totalBlocks"], stats["totalPolicyViolations"]) == ("1", "1")


def test_block_policy_lets_other_prompts_through(
    gateway: str, setup: Setup, api: httpx.Client
) -> None:
    add_policy(api, setup, 'Never mention "project falcon".', 2)
    sdk = client(gateway, setup.ai_key["secret"])
    reply = sdk.chat.completions.create(model="gpt-4o", messages=HELLO)  # type: ignore[arg-type]
    assert reply.choices[0].message.content


def test_log_policy_records_a_violation_and_succeeds(
    gateway: str, setup: Setup, api: httpx.Client
) -> None:
    add_policy(api, setup, 'Log prompts that mention "salary".', 0, repoId=setup.repo_id)
    messages = [{"role": "user", "content": "What is the average salary?"}]

    reply = client(gateway, setup.ai_key["secret"]).chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,  # type: ignore[arg-type]
    )

    assert reply.choices[0].message.content
    stats = llm_stats(api, setup)
    assert (stats["totalPolicyViolations"], stats["totalAlerts"], stats["totalBlocks"]) == (
        "1",
        "0",
        "0",
    )
    rows = call(api, "GET", f"/aistats/minute?repoId={setup.repo_id}")["data"]
    assert sum(int(r["policyViolations"]) for r in rows) == 1
    assert sum(int(r["numSeverityMedium"]) for r in rows) == 1


def test_org_alert_policy_records_an_alert(gateway: str, setup: Setup, api: httpx.Client) -> None:
    add_policy(api, setup, 'Alert on "password".', 1, workspaceId=None)
    messages = [{"role": "user", "content": "my Password is hunter2"}]

    client(gateway, setup.ai_key["secret"]).chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,  # type: ignore[arg-type]
    )

    stats = llm_stats(api, setup)
    assert (stats["totalPolicyViolations"], stats["totalAlerts"]) == ("1", "1")


# -- the stand-in rules as functions ----------------------------------------------------------


def test_model_catalogue() -> None:
    assert models_for_llm({"aiType": "ANTHROPIC", "name": "x"}) == ("claude-3-5-sonnet",)
    assert models_for_llm({"aiType": "OTHER", "name": "local-llama"}) == ("local-llama",)


def test_quoted_phrases_and_policy_matching() -> None:
    assert quoted_phrases('Never "a b" nor “c”; plain words do not count') == ["a b", "c"]
    policies = [
        {"content": "no quotes at all", "actionType": 2, "riskType": "HIGH"},
        {"content": 'mention "c"', "actionType": 1, "riskType": "LOW"},
    ]
    verdict = evaluate_policies(policies, "A B and C")
    assert (verdict.violation, verdict.alert, verdict.block, verdict.severity) == (
        True,
        True,
        False,
        "LOW",
    )
