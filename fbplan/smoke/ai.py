"""The AI smoke check: one chat completion through the Flashback AI gateway with the
official openai SDK, as applications use it (`OpenAI(base_url, api_key, timeout,
max_retries)`). Success is HTTP 200 with a non-empty `choices[0].message.content`.

Failures say what to fix: 401/403 mean a storage key pair (or a dead key) was used instead
of a repository AI API key; 404 means a base URL without `/v1` or a model that no attached
AI LLM offers; 429 and QUOTA_EXCEEDED are soft signals the runner waits out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fbplan.smoke import Attempt, Failure, SmokeStep

OpenAIFactory = Callable[[str, str, float], Any]  # (base URL, API key, timeout s) -> client
Emit = Callable[[SmokeStep], None]
Explained = tuple[Failure, str, str]  # (failure, message, fix)

MAX_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_PROMPT = "This is a connectivity check from fbplan. Reply with one short sentence."
_MAX_DETAIL = 240


def default_openai_client(base_url: str, api_key: str, timeout: float) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=MAX_RETRIES)


@dataclass(frozen=True)
class ChatCall:
    """One AI target, resolved: where to ask, what, and with which key (named, not shown)."""

    repo: str
    key_name: str
    address: str
    base_url: str
    model: str
    prompt: str
    timeout: float
    source: str  # where the key came from


def attempt(client: Any, call: ChatCall, emit: Emit) -> Attempt:
    """One chat completion; the step is named `chat`."""
    started = time.perf_counter()
    try:
        failure, message, fix = _chat(client, call)
    except Exception as exc:  # openai SDK errors, explained once
        failure, message, fix = classify(exc, call)
    step = SmokeStep("chat", failure is None, _since(started), call.base_url, message, fix)
    emit(step)
    return Attempt([step], failure)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)


def _chat(client: Any, call: ChatCall) -> tuple[Failure | None, str, str]:
    raw = client.chat.completions.with_raw_response.create(
        model=call.model, messages=[{"role": "user", "content": call.prompt}]
    )
    status = int(getattr(raw, "status_code", 200))
    completion = raw.parse()
    choices = list(getattr(completion, "choices", None) or [])
    content = (choices[0].message.content or "").strip() if choices else ""
    if status != 200:
        return Failure("hard"), f"the gateway answered HTTP {status}, not 200", _GATEWAY_FIX
    if not content:
        message = f"HTTP 200 but choices[0].message.content is empty (model {call.model})"
        return _hard(message, f"check that the AI LLM serving {call.model} answers")
    return None, f"{call.model} answered ({len(content)} characters)", ""


_GATEWAY_FIX = "check the gateway URL (base_url in smoke.ai or FB_OPENAI_BASE_URL)"


def _details(exc: Any) -> tuple[str, str]:
    """(code, message) from an OpenAI-format error body, shortened."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        error = body.get("error")
        inner: Mapping[str, Any] = error if isinstance(error, Mapping) else body
        code = str(inner.get("code") or inner.get("error_code") or inner.get("type") or "")
        message = str(inner.get("message") or "")
    else:
        code, message = str(getattr(exc, "code", "") or ""), str(body or "")
    message = " ".join(message.split()).rstrip(".")
    return code, message[:_MAX_DETAIL]


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def classify(exc: Exception, call: ChatCall) -> Explained:
    """(failure, message, fix) for an exception raised by the openai SDK."""
    status = getattr(exc, "status_code", None)
    if status is None:
        return _transport(exc, call)
    code, detail = _details(exc)
    said = f"HTTP {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else "")
    quota = "QUOTA_EXCEEDED" in f"{code} {detail}".upper() or code == "insufficient_quota"
    if status == 429 or quota:
        fix = (
            "the repository hit an AI quota or rate limit: check `fbplan stats` and the "
            "organization's credits, then run `fbplan smoke` again"
        )
        return Failure("soft", _retry_after(exc)), f"quota or rate limit: {said}", fix
    if status in (401, 403):
        message = (
            f"the gateway refused the key ({said}): use a repository AI API key, not a storage "
            "key pair"
        )
        fix = (
            f"name one of repo {call.repo}'s ai_api_keys in smoke.ai (its secret is the bearer "
            f"token; this one came from {call.source}), or set FB_OPENAI_API_KEY to one"
        )
        return _hard(message, fix)
    if status == 404:
        fix = (
            f"check that the base URL ends in /v1 and that the model {call.model} belongs to "
            f"an AI LLM attached to repo {call.repo} (repos.{call.repo}.ai_llms)"
        )
        return _hard(said, fix)
    if status == 400:
        fix = (
            f"check that repo {call.repo}'s AI LLMs offer {call.model} and that no AI policy "
            "blocks the smoke prompt"
        )
        return _hard(said, fix)
    return _hard(said, "the gateway failed; try again later or check the AI LLM")


def _hard(message: str, fix: str) -> Explained:
    return Failure("hard"), message, fix


def _transport(exc: Exception, call: ChatCall) -> Explained:
    name = type(exc).__name__
    if "Timeout" in name:
        message = f"no answer within {call.timeout:g} s ({name})"
        return Failure("unreachable"), message, "raise FB_AI_TIMEOUT_MS or check the gateway"
    if "Connection" in name:
        message = f"could not connect to {call.base_url} ({name})"
        return Failure("unreachable"), message, _GATEWAY_FIX
    return _hard(f"{name}: {exc}", "see the error above")
