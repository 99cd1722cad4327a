"""The emulator's OpenAI-compatible AI gateway (``/v1/models``, ``/v1/chat/completions``).

`create_gateway_app(store)` returns a WSGI app that the official ``openai`` SDK can use with
``OpenAI(base_url=<gateway>/v1, api_key=<repo AI key secret>)``. The stand-in rules:

**Bearer token.** The token is the ``secret`` returned once when a repo AI API key is created
(``POST /repo/{repoId}/ai/apikey``); the key must be live and its repo live. Anything else - no
token, an unknown token, a repo storage key id or secret - is 401 ``invalid_api_key``. The AI
key's own ``aiType`` does not restrict which attached LLM it may use.

**Model catalogue.** Each AI LLM config attached to the key's repo (``repoAiLlms``) offers a
small fixed catalogue chosen by its ``aiType``:

    OPENAI     gpt-4o-mini, gpt-4o
    ANTHROPIC  claude-3-5-sonnet
    GOOGLE     gemini-1.5-flash
    AWS        amazon.titan-text
    OTHER      the config's own name

``GET /v1/models`` lists the union in attachment order (a model offered by two configs is served
by the first). A model outside it is 404 ``model_not_found``; a repo with no LLM attached is
404 ``no_llm_attached`` on both routes.

**Reply.** Deterministic: ``[<model> via Flashback emulator] You said: <last user message>``
(same request, same content). ``max_tokens``/``max_completion_tokens`` truncate it (finish
reason ``length``); ``n`` repeats it. ``stream: true`` answers an SSE stream of
``chat.completion.chunk`` events ending in ``data: [DONE]`` (with a usage chunk when
``stream_options.include_usage`` is set).

**Tokens.** One token per whitespace-separated word: prompt tokens over the text of every
message, completion tokens over the reply. Each completion, blocked or not, is recorded with
`store.record_ai_usage` (the serving LLM config, the AI key, the model, the host, the latency).

**Policies.** Natural-language policies cannot be evaluated locally, so the emulator's rule is:
a policy applies when its ``content`` quotes a phrase in double quotes (``"..."`` or curly
quotes), e.g. ``Never mention "project falcon".``, and the text of any message of the request
contains that phrase, case-insensitively (runs of whitespace compare equal). Policies without a
quoted phrase never match. Org, workspace and repo policies all apply. A match records a
violation with the highest ``riskType`` of the matched policies as severity; ``actionType`` 1
(alert) also records an alert; 2 (block) records a block and refuses the request with 400
``policy_violation``; 0 (log) and 1 let the request succeed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MODEL_CATALOGUE: dict[str, tuple[str, ...]] = {
    "OPENAI": ("gpt-4o-mini", "gpt-4o"),
    "ANTHROPIC": ("claude-3-5-sonnet",),
    "GOOGLE": ("gemini-1.5-flash",),
    "AWS": ("amazon.titan-text",),
}
MODEL_CREATED = 1704067200  # 2024-01-01: a fixed `created` for every catalogue model
_RISK_ORDER = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
_BLOCK, _ALERT = 2, 1


class GatewayError(Exception):
    """An OpenAI-format error answer: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type_
        self.param = param

    def response(self) -> Response:
        body = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return json_response({"error": body}, self.status)


@dataclass(frozen=True)
class Offer:
    """One model the repo offers, and the LLM config that serves it."""

    model: str
    llm: Mapping[str, Any]


@dataclass
class Verdict:
    """The outcome of the policies for one request."""

    matched: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def violation(self) -> bool:
        return bool(self.matched)

    @property
    def alert(self) -> bool:
        return any(_action(p) == _ALERT for p in self.matched)

    @property
    def block(self) -> bool:
        return any(_action(p) == _BLOCK for p in self.matched)

    @property
    def severity(self) -> str | None:
        risks = [str(p.get("riskType") or "").upper() for p in self.matched]
        known = [r for r in risks if r in _RISK_ORDER]
        return max(known, key=_RISK_ORDER.__getitem__) if known else None


def create_gateway_app(store: Any) -> WsgiApp:
    """The OpenAI-compatible gateway as a WSGI app over `store`."""
    return GatewayApp(store)


def models_for_llm(llm: Mapping[str, Any]) -> tuple[str, ...]:
    """The model ids one AI LLM config offers (see the catalogue in the module docstring)."""
    ai_type = str(llm.get("aiType") or "").upper()
    return MODEL_CATALOGUE.get(ai_type, (str(llm.get("name") or ""),))


def count_tokens(text: str) -> int:
    """The emulator's tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def quoted_phrases(content: str) -> list[str]:
    """Phrases a policy quotes in double (straight or curly) quotes."""
    return [(a or b).strip() for a, b in _QUOTED.findall(content) if (a or b).strip()]


def evaluate_policies(policies: Iterable[Mapping[str, Any]], text: str) -> Verdict:
    """Which policies the request text violates under the quoted-phrase rule."""
    haystack = _fold(text)
    matched = [
        p
        for p in policies
        if any(_fold(phrase) in haystack for phrase in quoted_phrases(str(p.get("content", ""))))
    ]
    return Verdict(matched)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _action(policy: Mapping[str, Any]) -> int:
    try:
        return int(policy.get("actionType", 0))
    except (TypeError, ValueError):
        return 0


class GatewayApp:
    """WSGI app of the AI gateway; see the module docstring for the rules."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self._route(request)
        except GatewayError as err:
            response = err.response()
        except Exception as err:  # an emulator bug must still answer in OpenAI's error format
            response = GatewayError(
                500, f"Gateway error: {err}", None, type_="server_error"
            ).response()
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/health" and request.method == "GET":
            return json_response({"status": "ok"})
        if path == "/v1/models":
            _require_method(request, "GET")
            return self._list_models(request)
        if path.startswith("/v1/models/"):
            _require_method(request, "GET")
            return self._get_model(request, path.removeprefix("/v1/models/"))
        if path == "/v1/chat/completions":
            _require_method(request, "POST")
            return self._chat(request)
        raise GatewayError(
            404,
            f"Unknown request URL: {request.method} {request.path}. "
            "The gateway serves /v1/models and /v1/chat/completions (is /v1 in the base URL?).",
            "unknown_url",
        )

    # -- authentication and catalogue -------------------------------------------------------

    def _authenticate(self, request: Request) -> Mapping[str, Any]:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise GatewayError(
                401,
                "You didn't provide an API key. Send a repo AI API key as "
                "'Authorization: Bearer <key>'.",
                "invalid_api_key",
            )
        ai_key = self.store.find_repo_ai_key_by_token(token)
        if ai_key is None:
            raise GatewayError(401, self._unknown_token_message(token), "invalid_api_key")
        return ai_key

    def _unknown_token_message(self, token: str) -> str:
        if self.store.find_repo_api_key_by_key(token) is not None:
            return (
                "This is a repository storage API key; the AI gateway accepts only "
                "repository AI API keys."
            )
        return "Incorrect API key provided. Use the secret of a live repository AI API key."

    def _offers(self, ai_key: Mapping[str, Any]) -> list[Offer]:
        llms = list(self.store.repo_llms(ai_key["repoId"]))
        if not llms:
            raise GatewayError(
                404,
                f"Repository {ai_key.get('repoName', ai_key['repoId'])!r} has no AI LLM "
                "configuration attached (repoAiLlms is empty), so it offers no models.",
                "no_llm_attached",
            )
        offers: dict[str, Offer] = {}
        for llm in llms:
            for model in models_for_llm(llm):
                offers.setdefault(model, Offer(model, llm))
        return list(offers.values())

    def _find_offer(self, ai_key: Mapping[str, Any], model: str) -> Offer:
        offers = self._offers(ai_key)
        for offer in offers:
            if offer.model == model:
                return offer
        available = ", ".join(o.model for o in offers)
        raise GatewayError(
            404,
            f"The model {model!r} does not exist or is not offered by this repository's AI LLM "
            f"configurations (available: {available}).",
            "model_not_found",
            param="model",
        )

    def _list_models(self, request: Request) -> Response:
        offers = self._offers(self._authenticate(request))
        return json_response({"object": "list", "data": [model_object(o) for o in offers]})

    def _get_model(self, request: Request, model: str) -> Response:
        return json_response(model_object(self._find_offer(self._authenticate(request), model)))

    # -- chat completions -------------------------------------------------------------------

    def _chat(self, request: Request) -> Response:
        started = time.monotonic()
        ai_key = self._authenticate(request)
        body = parse_chat_request(request)
        offer = self._find_offer(ai_key, body["model"])
        prompt = prompt_text(body["messages"])
        verdict = evaluate_policies(self.store.policies_for_repo(ai_key["repoId"]), prompt)
        if verdict.block:
            self._record(request, ai_key, offer, count_tokens(prompt), 0, verdict, started)
            names = ", ".join(repr(p.get("name")) for p in verdict.matched if _action(p) == _BLOCK)
            raise GatewayError(
                400,
                f"The request was blocked by AI policy {names} of this repository.",
                "policy_violation",
                param="messages",
            )
        completion = build_completion(body, offer.model)
        usage = completion["usage"]
        self._record(
            request,
            ai_key,
            offer,
            usage["prompt_tokens"],
            usage["completion_tokens"],
            verdict,
            started,
        )
        if body.get("stream"):
            return sse_response(
                completion, bool((body.get("stream_options") or {}).get("include_usage"))
            )
        return json_response(completion)

    def _record(
        self,
        request: Request,
        ai_key: Mapping[str, Any],
        offer: Offer,
        tokens_in: int,
        tokens_out: int,
        verdict: Verdict,
        started: float,
    ) -> None:
        self.store.record_ai_usage(
            repo_id=ai_key["repoId"],
            ai_llm_id=offer.llm.get("id"),
            ai_key_id=ai_key.get("id"),
            model=offer.model,
            llm_type=offer.llm.get("aiType"),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_ms=round((time.monotonic() - started) * 1000, 3),
            host=request.host,
            policy_violation=verdict.violation,
            alert=verdict.alert,
            block=verdict.block,
            severity=verdict.severity,
        )


def _require_method(request: Request, method: str) -> None:
    if request.method != method:
        raise GatewayError(
            405, f"Method {request.method} not allowed on {request.path}; use {method}.", None
        )


def model_object(offer: Offer) -> dict[str, Any]:
    owner = f"flashback:{offer.llm.get('name') or offer.llm.get('id')}"
    return {"id": offer.model, "object": "model", "created": MODEL_CREATED, "owned_by": owner}


def parse_chat_request(request: Request) -> dict[str, Any]:
    """The JSON body of a chat completion, with ``model`` and ``messages`` checked."""
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError as err:
        raise GatewayError(400, f"The request body is not valid JSON: {err}.", None) from err
    if not isinstance(body, dict):
        raise GatewayError(400, "The request body must be a JSON object.", None)
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "you must provide a model parameter", None, param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise GatewayError(
            400, "'messages' must be a non-empty array of messages.", None, param="messages"
        )
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise GatewayError(400, "Every message needs a 'role'.", None, param="messages")
    return body


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: a string content, or the text parts of a content array."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def prompt_text(messages: list[Mapping[str, Any]]) -> str:
    """All message texts of a request, one per line (what policies and tokens look at)."""
    return "\n".join(message_text(m) for m in messages)


def reply_text(messages: list[Mapping[str, Any]], model: str) -> str:
    """The deterministic reply: an echo of the last user message."""
    user = [message_text(m) for m in messages if m.get("role") == "user"]
    said = " ".join((user[-1] if user else "").split()) or "(an empty prompt)"
    return f"[{model} via Flashback emulator] You said: {said}"


def build_completion(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A ``chat.completion`` object for a checked request body."""
    words = reply_text(body["messages"], model).split(" ")
    limit = _positive_int(body.get("max_completion_tokens") or body.get("max_tokens"))
    truncated = limit is not None and len(words) > limit
    content = " ".join(words[:limit] if truncated else words)
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": None,
            "finish_reason": "length" if truncated else "stop",
        }
        for i in range(_positive_int(body.get("n")) or 1)
    ]
    prompt_tokens = count_tokens(prompt_text(body["messages"]))
    completion_tokens = count_tokens(content) * len(choices)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10],
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if value < 1:
        raise GatewayError(400, f"{value} is less than the minimum of 1.", None)
    return value


def stream_events(completion: Mapping[str, Any], include_usage: bool) -> Iterator[str]:
    """The SSE events of a completion: role, content word by word, finish, [usage], [DONE]."""
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> str:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice]})

    for choice in completion["choices"]:
        index = choice["index"]
        yield chunk(index, {"role": "assistant", "content": ""}, None)
        for piece in re.findall(r"\S+\s*", choice["message"]["content"]):
            yield chunk(index, {"content": piece}, None)
        yield chunk(index, {}, choice["finish_reason"])
    if include_usage:
        yield _sse({**base, "choices": [], "usage": completion["usage"]})
    yield "data: [DONE]\n\n"


def _sse(payload: Mapping[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def sse_response(completion: Mapping[str, Any], include_usage: bool) -> Response:
    body = "".join(stream_events(completion, include_usage))
    return Response(
        body, 200, content_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, content_type="application/json")
