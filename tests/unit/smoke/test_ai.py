"""The AI chat check with the real openai SDK against a scripted local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from fbplan.smoke import SmokeStep
from fbplan.smoke.ai import ChatCall, attempt, default_openai_client


class Script:
    """Answers queued (status, body, headers); records what the SDK sent."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any, dict[str, str]]] = []
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        self.seen.append({"path": request.path, "auth": request.headers.get("Authorization")})
        status, body, headers = self.answers.pop(0)
        response = Response(json.dumps(body), status, headers, content_type="application/json")
        return response(environ, start_response)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Script, str]]:
    script = Script()
    server = make_server("127.0.0.1", 0, script, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield script, f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(server: tuple[Script, str]) -> tuple[Script, str]:
    script, _ = server
    script.answers.clear()
    script.seen.clear()
    return server


def completion(content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [choice],
    }


def error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def ask(base_url: str, token: str = "sk-fb-test-token-0001") -> tuple[Any, SmokeStep]:
    call = ChatCall("app", "app-ai", "repo.app.ai_api_key.app-ai", base_url, "gpt-4o-mini",
                    "hello", 5.0, "the sink")  # fmt: skip
    client = OpenAI(base_url=base_url, api_key=token, timeout=5.0, max_retries=0)
    steps: list[SmokeStep] = []
    result = attempt(client, call, steps.append)
    return result, steps[0]


def test_a_200_with_content_passes_and_sends_the_key_as_bearer(gateway: Any) -> None:
    script, url = gateway
    script.answers.append((200, completion("Hello from the gateway."), {}))
    result, step = ask(url)
    assert result.ok and step.name == "chat" and step.endpoint == url
    assert "gpt-4o-mini answered" in step.message
    assert script.seen == [{"path": "/v1/chat/completions", "auth": "Bearer sk-fb-test-token-0001"}]


def test_empty_content_fails(gateway: Any) -> None:
    script, url = gateway
    script.answers.append((200, completion(""), {}))
    result, step = ask(url)
    assert result.failure.kind == "hard" and "content is empty" in step.message


@pytest.mark.parametrize("status", [401, 403])
def test_refused_keys_point_at_repository_ai_keys(gateway: Any, status: int) -> None:
    script, url = gateway
    script.answers.append((status, error("Incorrect API key provided", "invalid_api_key"), {}))
    result, step = ask(url)
    assert result.failure.kind == "hard"
    assert "use a repository AI API key, not a storage key pair" in step.message
    assert "ai_api_keys" in step.fix


def test_404_points_at_v1_and_the_attached_llms(gateway: Any) -> None:
    script, url = gateway
    script.answers.append((404, error("The model 'x' does not exist.", "model_not_found"), {}))
    result, step = ask(url)
    assert result.failure.kind == "hard" and "model_not_found" in step.message
    assert "ends in /v1" in step.fix and "repos.app.ai_llms" in step.fix


def test_429_and_quota_are_soft_with_retry_after(gateway: Any) -> None:
    script, url = gateway
    script.answers.append((429, error("slow down", "rate_limit"), {"Retry-After": "3"}))
    script.answers.append((403, {"success": False, "error_code": "QUOTA_EXCEEDED"}, {}))
    result, _ = ask(url)
    assert result.failure.kind == "soft" and result.failure.retry_after == 3.0
    result, step = ask(url)
    assert result.failure.kind == "soft" and "QUOTA_EXCEEDED" in step.message


def test_no_gateway_is_unreachable() -> None:
    result, step = ask("http://127.0.0.1:9/v1")
    assert result.failure.kind == "unreachable" and "could not connect" in step.message


def test_the_default_client_is_the_official_sdk_with_bounded_retries() -> None:
    client = default_openai_client("http://gateway.test/v1", "sk-fb-x", 12.5)
    assert isinstance(client, OpenAI)
    assert (client.max_retries, client.timeout) == (2, 12.5)
    assert str(client.base_url).rstrip("/") == "http://gateway.test/v1"
