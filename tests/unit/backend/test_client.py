"""BackendClient: headers, retries, the non-idempotent rule and error mapping (respx)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from fbplan import __version__
from fbplan.backend import DEFAULT_BACKEND_URL, BackendClient, ClientEvent
from fbplan.errors import ApiError, ConfigError, TransportError
from fbplan.secrets.values import MASK, register

BASE = "https://backend.test"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.test-token-value.signature"


class Harness:
    """A client wired to a respx router, recording sleeps and events."""

    def __init__(self, **kw: Any) -> None:
        self.router = respx.Router(base_url=BASE, assert_all_called=False)
        self.waits: list[float] = []
        self.events: list[ClientEvent] = []
        self.client = BackendClient(
            BASE,
            TOKEN,
            transport=httpx.MockTransport(self.router.handler),
            sleep=self.waits.append,
            on_event=self.events.append,
            **kw,
        )

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    with harness.client:
        yield harness


def fail(status: int, **body: Any) -> httpx.Response:
    return httpx.Response(status, json={"success": False, **body})


def ok(**body: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, **body})


# A complete profile, as the API defines it: the client refuses an answer it cannot read.
PROFILE = {
    "id": "u1",
    "name": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.test",
    "orgId": "o1",
    "orgRole": 255,
    "orgRoleDescription": "Owner",
    "orgRoles": [255],
    "validated": True,
    "mfaRequired": False,
    "isBusiness": True,
}


# --- requests and headers ---------------------------------------------------------------


def test_sends_auth_accept_and_user_agent(h: Harness) -> None:
    route = h.router.get("/user/profile").mock(return_value=ok(data=PROFILE))
    assert h.client.get("/user/profile") == {"success": True, "data": PROFILE}
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["user-agent"] == f"fbplan/{__version__}"
    assert "content-type" not in sent.headers


def test_content_type_only_with_a_body(h: Harness) -> None:
    created = {"success": True, "workspace": {"id": "w", "name": "prod", "orgId": "o1"}}
    route = h.router.post("/workspace").mock(return_value=httpx.Response(201, json=created))
    assert h.client.post("/workspace", {"name": "prod"}) == created
    sent = route.calls.last.request
    assert sent.headers["content-type"] == "application/json"
    assert sent.content == b'{"name":"prod"}'


def test_params_drop_none_and_join_lists(h: Harness) -> None:
    route = h.router.get("/stats").mock(return_value=ok())
    h.client.get("/stats", params={"repoId": ["a", "b"], "workspaceId": None, "take": 10})
    assert dict(route.calls.last.request.url.params) == {"repoId": "a,b", "take": "10"}


def test_empty_body_is_none_and_bare_array_is_returned(h: Harness) -> None:
    h.router.delete("/bucket/b1").mock(return_value=httpx.Response(200))
    h.router.get("/ai/models").mock(return_value=httpx.Response(200, json=[{"success": False}]))
    assert h.client.delete("/bucket/b1") is None
    assert h.client.get("/ai/models") == [{"success": False}]


def test_rejects_a_path_that_is_not_relative(h: Harness) -> None:
    with pytest.raises(ValueError, match="must start with"):
        h.client.get("https://elsewhere.example/steal")


# --- retries ---------------------------------------------------------------------------


def test_retries_a_500_then_succeeds(h: Harness) -> None:
    route = h.router.get("/repo").mock(side_effect=[fail(500), fail(502), ok(repos=[])])
    assert h.client.get("/repo") == {"success": True, "repos": []}
    assert route.call_count == 3
    assert len(h.waits) == 2
    assert h.client.request_count == 3
    assert h.kinds() == ["request", "retry", "request", "retry", "request"]


def test_429_retry_after_seconds_is_honoured(h: Harness) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={"success": False})
    h.router.get("/repo").mock(side_effect=[limited, ok(repos=[])])
    h.client.get("/repo")
    assert h.waits == [7.0]
    retry = next(e for e in h.events if e.kind == "retry")
    assert (retry.status, retry.attempt, retry.wait_seconds) == (429, 1, 7.0)


def test_429_retry_after_http_date_is_honoured(h: Harness) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    limited = httpx.Response(429, headers={"Retry-After": when})
    h.router.get("/repo").mock(side_effect=[limited, ok(repos=[])])
    h.client.get("/repo")
    assert 25.0 <= h.waits[0] <= 30.0


def test_retry_after_is_capped() -> None:
    harness = Harness(retry_after_max=5.0)
    limited = httpx.Response(429, headers={"Retry-After": "3600"})
    harness.router.get("/repo").mock(side_effect=[limited, ok(repos=[])])
    harness.client.get("/repo")
    assert harness.waits == [5.0]


def test_bounded_attempts_then_api_error(h: Harness) -> None:
    body = {"error_code": "UNAVAILABLE", "message": "try later"}
    route = h.router.get("/bucket").mock(return_value=fail(503, **body))
    with pytest.raises(ApiError) as info:
        h.client.get("/bucket", params={"workspaceId": "w1"})
    err = info.value
    assert (err.method, err.path, err.status, err.code) == ("GET", "/bucket", 503, "UNAVAILABLE")
    assert err.api_message == "try later"
    assert err.url == f"{BASE}/bucket"
    assert not err.ambiguous
    assert route.call_count == 5
    assert len(h.waits) == 4
    assert h.kinds()[-1] == "error"
    assert h.events[-1].attempt == 5


def test_client_errors_are_not_retried(h: Harness) -> None:
    route = h.router.get("/repo/r1").mock(return_value=fail(404, message="not found"))
    with pytest.raises(ApiError) as info:
        h.client.get("/repo/r1")
    assert info.value.status == 404
    assert route.call_count == 1
    assert h.waits == []


@pytest.mark.parametrize(("method", "answer"), [("PUT", {"bucketId": "b1"}), ("DELETE", {})])
def test_idempotent_writes_are_retried_on_500(
    h: Harness, method: str, answer: dict[str, Any]
) -> None:
    route = h.router.route(method=method, path="/bucket/b1")
    route.mock(side_effect=[fail(500), ok(**answer)])
    h.client.request(method, "/bucket/b1", json={"name": "x"})
    assert route.call_count == 2


def test_get_read_timeout_is_retried_then_transport_error(h: Harness) -> None:
    route = h.router.get("/repo").mock(side_effect=httpx.ReadTimeout)
    with pytest.raises(TransportError) as info:
        h.client.get("/repo")
    assert route.call_count == 5
    assert not isinstance(info.value, ApiError)  # the backend said nothing
    assert "timed out" in str(info.value)
    assert not info.value.ambiguous


# --- the non-idempotent rule -----------------------------------------------------------


def test_post_500_is_not_retried_and_is_ambiguous(h: Harness) -> None:
    route = h.router.post("/repo").mock(return_value=fail(500, message="boom"))
    with pytest.raises(ApiError) as info:
        h.client.post("/repo", {"name": "r"})
    assert route.call_count == 1
    assert info.value.ambiguous
    assert info.value.status == 500
    assert h.waits == []


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_post_failing_after_send_is_not_retried(h: Harness, exc: type[Exception]) -> None:
    route = h.router.post("/repo").mock(side_effect=exc)
    with pytest.raises(TransportError) as info:
        h.client.post("/repo", {"name": "r"})
    assert route.call_count == 1
    assert info.value.ambiguous


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout])
def test_post_connect_failure_is_retried(h: Harness, exc: type[Exception]) -> None:
    route = h.router.post("/repo").mock(side_effect=[exc, ok(repoId="r1")])
    assert h.client.post("/repo", {"name": "r"}) == {"success": True, "repoId": "r1"}
    assert route.call_count == 2


def test_post_429_is_retried(h: Harness) -> None:
    route = h.router.post("/repo").mock(side_effect=[fail(429), ok(repoId="r1")])
    assert h.client.post("/repo", {"name": "r"})["repoId"] == "r1"
    assert route.call_count == 2


def test_a_429_quota_exceeded_is_not_retried_here(h: Harness) -> None:
    # A quota stays exceeded until capacity is freed: the applier's bounded pauses handle it.
    body = {"error_code": "QUOTA_EXCEEDED", "message": "bucket quota reached"}
    route = h.router.post("/bucket").mock(return_value=fail(429, **body))
    with pytest.raises(ApiError) as info:
        h.client.post("/bucket", {"name": "b"})
    assert route.call_count == 1
    assert (info.value.status, info.value.code) == (429, "QUOTA_EXCEEDED")


def test_post_connect_errors_exhausted_are_not_ambiguous(h: Harness) -> None:
    h.router.post("/repo").mock(side_effect=httpx.ConnectError)
    with pytest.raises(TransportError) as info:
        h.client.post("/repo", {"name": "r"})
    assert not info.value.ambiguous
    assert "could not connect" in str(info.value)


def test_post_non_json_success_is_ambiguous(h: Harness) -> None:
    h.router.post("/repo").mock(return_value=httpx.Response(200, text="<html>"))
    with pytest.raises(ApiError) as info:
        h.client.post("/repo", {"name": "r"})
    assert info.value.ambiguous
    assert "not valid JSON" in str(info.value)


# --- error mapping ---------------------------------------------------------------------


def test_soft_failure_in_a_200(h: Harness) -> None:
    body = {"error_code": "INVALID_CREDENTIALS", "message": "bad key"}
    h.router.post("/ai/llm/l1/validate").mock(return_value=fail(200, **body))
    with pytest.raises(ApiError) as info:
        h.client.post("/ai/llm/l1/validate")
    err = info.value
    assert (err.status, err.code, err.api_message) == (200, "INVALID_CREDENTIALS", "bad key")
    assert not err.ambiguous


def test_repo_error_shape_uses_error_message(h: Harness) -> None:
    body = {"error_code": "NAME_ALREADY_USED", "error_message": "name taken"}
    h.router.post("/repo").mock(return_value=fail(400, **body))
    with pytest.raises(ApiError) as info:
        h.client.post("/repo", {"name": "r"})
    assert (info.value.code, info.value.api_message) == ("NAME_ALREADY_USED", "name taken")
    assert str(info.value) == "POST /repo failed with HTTP 400 (NAME_ALREADY_USED: name taken)."


def test_non_json_error_body_gives_the_reason_phrase(h: Harness) -> None:
    html = httpx.Response(403, text='{"message": "ignored"}', headers={"content-type": "text/html"})
    h.router.get("/repo").mock(return_value=html)
    with pytest.raises(ApiError) as info:
        h.client.get("/repo")
    assert (info.value.code, info.value.api_message) == (None, "Forbidden")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, text="<h1>Not Found</h1>", headers={"content-type": "text/html"}),
        httpx.Response(400, json={"error": {"message": "unknown route"}}),
        httpx.Response(200, text="<html>a web site</html>"),
    ],
)
def test_an_answer_unlike_the_api_points_at_the_backend_url(
    h: Harness, answer: httpx.Response
) -> None:
    h.router.get("/workspace").mock(return_value=answer)
    with pytest.raises(ApiError) as info:
        h.client.get("/workspace")
    assert info.value.foreign
    assert str(info.value).endswith(
        f"The answer from {BASE}/workspace does not look like the Flashback API: "
        "check FB_BACKEND_URL."
    )


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        (fail(404, message="Workspace not found"), "HTTP 404 (Workspace not found)."),
        (httpx.Response(429, text="<html>slow down</html>"), "HTTP 429 (Too Many Requests)."),
        (httpx.Response(502, text="<html>bad gateway</html>"), "HTTP 502 (Bad Gateway)."),
    ],
)
def test_api_errors_and_proxy_answers_get_no_backend_url_hint(
    h: Harness, answer: httpx.Response, sentence: str
) -> None:
    h.router.get("/workspace/w9").mock(return_value=answer)
    with pytest.raises(ApiError) as info:
        h.client.get("/workspace/w9")
    assert not info.value.foreign
    assert str(info.value) == f"GET /workspace/w9 failed with {sentence}"


def _resolver_failure(code: int, calls: list[int]) -> httpx.MockTransport:
    """A transport failing as httpx does when the resolver answers `code` (respx would
    replace the exception's cause), then answering 200."""

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            error = socket.gaierror(code, "Name or service not known")
            raise httpx.ConnectError(f"[Errno {code}] {error.strerror}") from error
        return ok(workspaces=[])

    return httpx.MockTransport(handle)


def test_a_host_name_that_does_not_resolve_fails_at_once() -> None:
    calls: list[int] = []
    waits: list[float] = []
    transport = _resolver_failure(socket.EAI_NONAME, calls)
    client = BackendClient(BASE, TOKEN, transport=transport, sleep=waits.append)
    with client, pytest.raises(TransportError) as info:
        client.get("/workspace")
    assert calls == [1] and waits == []
    assert str(info.value) == (
        f"GET /workspace got no response from {BASE} (FB_BACKEND_URL): the host name "
        "backend.test does not resolve (Name or service not known)."
    )


def test_a_temporary_resolver_failure_is_retried() -> None:
    calls: list[int] = []
    transport = _resolver_failure(socket.EAI_AGAIN, calls)
    with BackendClient(BASE, TOKEN, transport=transport, sleep=lambda _: None) as client:
        assert client.get("/workspace") == {"success": True, "workspaces": []}
    assert calls == [1, 1]


def test_error_messages_never_carry_token_secret_or_query(h: Harness) -> None:
    secret = "s3cr3t-AKIA-value-0042"
    register(secret)
    echoed = f"bad key {secret} for Bearer {TOKEN}"
    h.router.post("/bucket").mock(return_value=fail(400, message=echoed))
    with pytest.raises(ApiError) as info:
        h.client.post("/bucket", {"secret": secret}, params={"walletAddress": "qv-91827"})
    err = info.value
    text = f"{err} {err!r} {err.api_message} {err.url}"
    for leak in (secret, TOKEN, "qv-91827"):
        assert leak not in text
    assert MASK in str(err)
    assert err.url == f"{BASE}/bucket"
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


def test_transport_error_keeps_url_without_query(h: Harness) -> None:
    h.router.get("/repo").mock(side_effect=httpx.ConnectError)
    with pytest.raises(TransportError) as info:
        h.client.get("/repo", params={"repoId": "secret-ish"})
    assert info.value.url == f"{BASE}/repo"
    assert "secret-ish" not in str(info.value)
    # The cause is kept for FBPLAN_DEBUG's traceback, and its text has no query either.
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "secret-ish" not in str(info.value.__cause__)


# --- jitter ----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    attempts=st.integers(min_value=2, max_value=8),
    base=st.floats(min_value=0.01, max_value=2.0),
    cap=st.floats(min_value=0.1, max_value=30.0),
)
def test_full_jitter_waits_stay_within_bounds(attempts: int, base: float, cap: float) -> None:
    harness = Harness(max_attempts=attempts, backoff_base=base, backoff_max=cap)
    harness.router.get("/repo").mock(return_value=fail(500))
    with harness.client, pytest.raises(ApiError):
        harness.client.get("/repo")
    assert len(harness.waits) == attempts - 1
    for n, wait in enumerate(harness.waits):
        assert 0.0 <= wait <= min(cap, base * 2**n) + 1e-9


def test_jitter_is_full_from_zero(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ranges: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        ranges.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    h.router.get("/repo").mock(side_effect=[fail(500), fail(500), fail(500), ok(repos=[])])
    h.client.get("/repo")
    assert ranges == [(0, 0.5), (0, 1.0), (0, 2.0)]


# --- events and configuration ----------------------------------------------------------


def test_request_events_carry_status_and_duration(h: Harness) -> None:
    h.router.get("/repo").mock(return_value=ok(repos=[]))
    h.client.get("/repo")
    (event,) = h.events
    assert (event.kind, event.method, event.path, event.status, event.attempt) == (
        "request",
        "GET",
        "/repo",
        200,
        1,
    )
    assert event.duration_ms is not None and event.duration_ms >= 0


def test_from_env_requires_a_token() -> None:
    with pytest.raises(ConfigError, match="FB_JWT"):
        BackendClient.from_env({})


def test_from_env_defaults_and_override() -> None:
    with BackendClient.from_env({"FB_JWT": TOKEN}) as client:
        assert client.base_url.rstrip("/") == DEFAULT_BACKEND_URL
    with BackendClient.from_env({"FB_JWT": TOKEN, "FB_BACKEND_URL": BASE}) as client:
        assert client.base_url.rstrip("/") == BASE


def test_bad_backend_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="http"):
        BackendClient("ftp://nope", TOKEN)
