"""The one HTTP client for the Flashback backend.

`BackendClient` sends JSON requests with the bearer token, retries what is safe to retry
(exponential backoff with full jitter, `Retry-After` honoured on 429/5xx, bounded attempts)
and translates every failure into `ApiError` (answered) or `TransportError` (no usable answer),
both `BackendError`s. This is the only module that sees httpx exceptions.

A non-idempotent request (POST, PATCH) is retried only when the server cannot have acted on
it: a connect error or connect/pool timeout (never sent) or a 429 (refused). Any other failure
is raised at once with `ambiguous=True`, so the caller re-reads by name before retrying.

Every attempt is bounded in time and size. httpx's timeouts bound each phase (connect, each
write, each read), but a server that drips one byte at a time never trips a read timeout, so
the answer is streamed and the client also enforces a total deadline (`deadline`, from the
moment the request is sent to the last byte of the answer; every socket operation, headers
included, waits no longer than it: `fbplan.backend.deadline`) and a size cap
(`max_response_bytes`, counted on the decoded body, so a compressed answer cannot inflate
past it). Neither is retried: a server that broke one would break it again.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from fbplan import __version__, contract
from fbplan.backend.budget import RequestBudget
from fbplan.backend.deadline import transport as deadline_transport
from fbplan.backend.deadline import until as deadline_until
from fbplan.errors import ApiError, BackendError, ConfigError, TransportError
from fbplan.kinds.base import MAX_PARALLELISM
from fbplan.secrets.values import redact, register

DEFAULT_BACKEND_URL = "https://backend.flashback.tech"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
DEFAULT_DEADLINE = 60.0  # seconds for one attempt: connect, send, the whole answer
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEADLINE_ENV = "FB_REQUEST_DEADLINE"
MAX_BYTES_ENV = "FB_RESPONSE_MAX_BYTES"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_MAX_MESSAGE = 300

# Transport failures after which the request may have reached the server are "sent";
# these three happen before a single byte of the request left the client.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectTimeout, "timed out while connecting"),
    (httpx.PoolTimeout, "timed out waiting for a free connection"),
    (httpx.ReadTimeout, "timed out waiting for the response"),
    (httpx.WriteTimeout, "timed out while sending the request"),
    (httpx.ConnectError, "could not connect"),
    (httpx.ReadError, "the connection dropped while reading the response"),
    (httpx.WriteError, "the connection dropped while sending the request"),
    (httpx.RemoteProtocolError, "the server closed the connection without a valid response"),
)

# Resolver answers that a name does not exist; EAI_AGAIN ("try again") is retried.
_NO_SUCH_HOST = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)

EventKind = Literal["request", "retry", "error"]


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One observable step of a request: an attempt done, a retry scheduled, a final error."""

    kind: EventKind
    method: str
    path: str
    status: int | None
    attempt: int
    wait_seconds: float | None = None
    duration_ms: float | None = None


class _Retryable(Exception):
    """Internal: an attempt failed in a way that may be retried (never escapes the client)."""

    def __init__(self, error: BackendError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _Overlong(Exception):
    """Internal: an answer broke the deadline or the size cap (carries the sentence, and
    the status when the answer had started: a size cap)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class BackendClient:
    """JSON client for the Flashback management API, with retries and error translation."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        retry_after_max: float = 60.0,
        on_event: Callable[[ClientEvent], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        budget: RequestBudget | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if deadline <= 0 or max_response_bytes < 1:
            raise ValueError("deadline and max_response_bytes must be positive")
        register(token)
        self._token = token
        self._settings: dict[str, Any] = {
            "timeout": timeout,
            "deadline": deadline,
            "max_response_bytes": max_response_bytes,
            "max_attempts": max_attempts,
            "backoff_base": backoff_base,
            "backoff_max": backoff_max,
            "retry_after_max": retry_after_max,
            "sleep": sleep,
        }
        self._deadline = deadline
        self._max_bytes = max_response_bytes
        self.base_url = _check_base_url(base_url)
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._max_attempts = max_attempts
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self._retry_after_max = retry_after_max
        self._on_event = on_event
        self._sleep = sleep
        self.budget = budget  # shared by every client of a run (stacks): fbplan.backend.budget
        # Keep as many connections open as requests may be in flight at once (see
        # MAX_PARALLELISM), so the next round does not pay for new connections.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=MAX_PARALLELISM)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=_headers(token),
            transport=transport
            if transport is not None
            else deadline_transport(limits, tls=httpx.URL(self.base_url).scheme == "https"),
            timeout=min(timeout, deadline),
            limits=limits,
        )

    def sibling(self, on_event: Callable[[ClientEvent], None] | None) -> BackendClient:
        """A client of the same backend, token, limits and budget with its own connections
        and event hook (one per stack of a run, all sharing one embedded emulator)."""
        return BackendClient(
            str(self.base_url),
            self._token,
            on_event=on_event,
            budget=self.budget,
            **self._settings,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, **kw: Any) -> BackendClient:
        """A client configured by FB_BACKEND_URL (optional) and FB_JWT (required)."""
        token = env.get("FB_JWT", "").strip()
        if not token:
            raise ConfigError(
                "FB_JWT is not set: export a Flashback access token (JWT) to talk to the backend."
            )
        base_url = env.get("FB_BACKEND_URL", "").strip() or DEFAULT_BACKEND_URL
        return cls(base_url, token, **{**request_limits(env), **kw})

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, params=params, json=json)

    def put(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("PUT", path, params=params, json=json)

    def delete(
        self, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        return self.request("DELETE", path, params=params, json=json)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one logical request (with retries); return the parsed JSON body or None."""
        method = method.upper()
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {_bare(path)!r}")
        http_request = self._http.build_request(method, path, params=_query(params), json=json)
        return self._send(http_request, path)

    def _send(self, request: httpx.Request, path: str) -> Any:
        attempt_number, result = 0, None
        try:
            for attempt in self._retrying():
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    result = self._once(request, path, attempt_number)
        except _Retryable as exc:
            self._fail(exc.error, attempt_number)
            raise exc.error from exc.__cause__  # what went wrong below, not the wrapper
        except BackendError as exc:
            self._fail(exc, attempt_number)
            raise
        return result

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )

    def _once(self, request: httpx.Request, path: str, attempt: int) -> Any:
        if self.budget is not None:
            self.budget.acquire()
        with self._count_lock:
            self.request_count += 1
        started = time.perf_counter()
        try:
            response = self._receive(request, started)
        except httpx.TransportError as exc:
            self._emit("request", request.method, path, None, attempt, started=started)
            raise self._transport_failure(request, path, exc) from exc
        except _Overlong as exc:
            self._emit("request", request.method, path, exc.status, attempt, started=started)
            raise _overlong_error(request, path, exc) from exc.__cause__
        self._emit("request", request.method, path, response.status_code, attempt, started=started)
        return self._interpret(request.method, path, response)

    def _receive(self, request: httpx.Request, started: float) -> httpx.Response:
        """Send `request` and read its whole answer within the deadline and the size cap."""
        try:
            with deadline_until(time.monotonic() + self._deadline):
                response = self._http.send(request, stream=True)
                try:
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self._max_bytes:
                        raise _Overlong(self._too_large(), response.status_code)
                    body = self._bounded_body(response, started)
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            # The sockets wait no longer than the deadline: past it, a timeout is the
            # deadline's, and no retry would answer in time either.
            if time.perf_counter() - started >= self._deadline:
                raise _Overlong(self._late()) from exc
            raise
        return _loaded(response, body)

    def _bounded_body(self, response: httpx.Response, started: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise _Overlong(self._too_large(), response.status_code)
            if time.perf_counter() - started > self._deadline:
                raise _Overlong(self._late())
            chunks.append(chunk)
        return b"".join(chunks)

    def _late(self) -> str:
        return (
            f"the answer did not arrive in full within the {self._deadline:g} s deadline "
            f"({DEADLINE_ENV})"
        )

    def _too_large(self) -> str:
        return f"the answer is larger than the {self._max_bytes:,}-byte limit ({MAX_BYTES_ENV})"

    def _transport_failure(
        self, request: httpx.Request, path: str, exc: httpx.TransportError
    ) -> Exception:
        unsent = isinstance(exc, _UNSENT)
        if unsent and (dns := _dns_failure(exc)):  # no retry fixes a name that does not exist
            reason = f"the host name {request.url.host} does not resolve ({dns})"
            return TransportError(request.method, _bare(path), reason, _safe_url(request.url))
        retryable = isinstance(exc, _RETRYABLE)
        ambiguous = retryable and not unsent and request.method not in IDEMPOTENT_METHODS
        error = TransportError(
            request.method, _bare(path), _reason(exc), _safe_url(request.url), ambiguous=ambiguous
        )
        return _Retryable(error) if retryable and not ambiguous else error

    def _interpret(self, method: str, path: str, response: httpx.Response) -> Any:
        if response.is_success:
            return self._success(method, path, response)
        error = self._api_error(method, path, response)
        status = response.status_code
        # A quota is not a rate limit: it stays exceeded until someone frees capacity, so it
        # goes straight to the caller, whose bounded pauses handle it (once, not twice).
        throttled = status == 429 and error.code != QUOTA_EXCEEDED
        if throttled and self.budget is not None:
            self.budget.throttled(self._retry_after(response))
        if throttled or (status >= 500 and method in IDEMPOTENT_METHODS):
            raise _Retryable(error, self._retry_after(response))
        if status >= 500:
            error.ambiguous = True
        raise error

    def _success(self, method: str, path: str, response: httpx.Response) -> Any:
        if not response.content.strip():
            return None
        try:
            body = jsonlib.loads(response.content)
        except ValueError as exc:
            raise self._error(
                method,
                path,
                response,
                None,
                "the response body is not valid JSON",
                ambiguous=method not in IDEMPOTENT_METHODS,
                foreign=True,
            ) from exc
        if isinstance(body, dict) and body.get("success") is False:
            code, message = _details(body)
            raise self._error(
                method, path, response, code, message or "the backend reported success: false"
            )
        self._check_shape(method, path, response, body)
        return body

    def _check_shape(self, method: str, path: str, response: httpx.Response, body: Any) -> None:
        """Refuse an answer fbplan cannot read (a list for an object, a missing id) at once.

        A create whose answer is unreadable may still have been carried out: ambiguous.
        """
        endpoint = contract.load().find(method, path.split("?", 1)[0])
        problems = endpoint.reading_problems(body) if endpoint is not None else []
        if problems:
            raise self._error(
                method,
                path,
                response,
                None,
                f"the answer does not have the shape the API defines: {problems[0]}",
                ambiguous=method not in IDEMPOTENT_METHODS,
            )

    def _api_error(self, method: str, path: str, response: httpx.Response) -> ApiError:
        body = None
        if "json" in response.headers.get("content-type", "").lower():
            with contextlib.suppress(ValueError):
                body = response.json()
        code, message = _details(body)
        # Every Flashback failure body is a JSON object with "success": a 4xx without one
        # came from something else, most likely a wrong FB_BACKEND_URL (a 429 may well come
        # from a proxy in front of the right one).
        flashback = isinstance(body, dict) and "success" in body
        foreign = response.is_client_error and response.status_code != 429 and not flashback
        message = message or response.reason_phrase
        return self._error(method, path, response, code, message, foreign=foreign)

    def _error(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        code: str | None,
        message: str | None,
        *,
        ambiguous: bool = False,
        foreign: bool = False,
    ) -> ApiError:
        return ApiError(
            method,
            _bare(path),
            response.status_code,
            code,
            _clean(message),
            _safe_url(response.request.url),
            ambiguous=ambiguous,
            foreign=foreign,
        )

    def _retry_after(self, response: httpx.Response) -> float | None:
        seconds = _parse_retry_after(response.headers.get("retry-after", ""))
        return None if seconds is None else min(max(seconds, 0.0), self._retry_after_max)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(state)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, _Retryable):
            return
        wait = state.next_action.sleep if state.next_action else None
        error = exc.error
        status = _status(error)
        self._emit("retry", error.method, error.path, status, state.attempt_number, wait)

    def _fail(self, error: BackendError, attempt: int) -> None:
        self._emit("error", error.method, error.path, _status(error), attempt)

    def _emit(
        self,
        kind: EventKind,
        method: str,
        path: str,
        status: int | None,
        attempt: int,
        wait: float | None = None,
        *,
        started: float | None = None,
    ) -> None:
        if self._on_event is None:
            return
        duration = None if started is None else (time.perf_counter() - started) * 1000.0
        self._on_event(ClientEvent(kind, method, _bare(path), status, attempt, wait, duration))


def request_limits(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The deadline and size cap set by FB_REQUEST_DEADLINE (seconds) and
    FB_RESPONSE_MAX_BYTES, as keyword arguments of `BackendClient` (empty when unset)."""
    limits: dict[str, Any] = {}
    for name, key, kind in (
        (DEADLINE_ENV, "deadline", float),
        (MAX_BYTES_ENV, "max_response_bytes", int),
    ):
        text = env.get(name, "").strip()
        if not text:
            continue
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{name} must be a positive number, got {text[:40]!r}.")
        limits[key] = value
    return limits


def _status(error: BackendError) -> int | None:
    """The HTTP status of an answered error; None when no answer came."""
    return error.status if isinstance(error, ApiError) else None


def _overlong_error(request: httpx.Request, path: str, exc: _Overlong) -> BackendError:
    """A broken deadline is no usable answer; a broken size cap is an answer refused."""
    method, url = request.method, _safe_url(request.url)
    ambiguous = method not in IDEMPOTENT_METHODS
    if exc.status is None:
        return TransportError(method, _bare(path), str(exc), url, ambiguous=ambiguous)
    return ApiError(method, _bare(path), exc.status, None, str(exc), url, ambiguous=ambiguous)


def _loaded(response: httpx.Response, body: bytes) -> httpx.Response:
    """A fully read copy of a streamed `response` holding the decoded `body`."""
    dropped = (b"content-encoding", b"content-length", b"transfer-encoding")
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in dropped]
    extensions = {k: v for k, v in response.extensions.items() if k == "reason_phrase"}
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=extensions,
    )


def _check_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        # from None: httpx's message quotes the URL, and a URL may carry a password
        raise ConfigError("the backend URL is not a valid URL.") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"the backend URL must be an http(s) URL, got {_safe_url(url)!r}.")
    return str(url.copy_with(query=None, fragment=None))


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": f"fbplan/{__version__}",
    }


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop None values; send multi-value filters as one comma-separated parameter."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            value = ",".join(str(v) for v in value)
        out[key] = value
    return out


def _details(body: Any) -> tuple[str | None, str | None]:
    """The API's error code and message from a JSON error body (any of its three shapes)."""
    if not isinstance(body, dict):
        return None, None
    code = body.get("error_code")
    message = body.get("message") or body.get("error_message")
    return (str(code) if code else None), (str(message) if message else None)


def _clean(text: str | None) -> str | None:
    """Redact, then shorten: a cut must never split a secret before it is masked."""
    if not text:
        return None
    text = " ".join(redact(text).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _reason(exc: httpx.TransportError) -> str:
    phrase = next((p for kind, p in _REASONS if isinstance(exc, kind)), type(exc).__name__)
    detail = _clean(str(exc))
    return f"{phrase} ({detail})" if detail and detail != phrase else phrase


def _dns_failure(exc: BaseException) -> str | None:
    """The resolver's message when `exc` was caused by a host name that does not exist."""
    cause: BaseException | None = exc
    for _ in range(5):  # httpx -> httpcore -> socket.gaierror
        if cause is None:
            return None
        if isinstance(cause, socket.gaierror):
            return cause.strerror or str(cause) if cause.errno in _NO_SUCH_HOST else None
        cause = cause.__cause__ or cause.__context__
    return None


def _bare(path: str) -> str:
    return redact(path.split("?", 1)[0])


def _safe_url(url: httpx.URL) -> str:
    return redact(str(url.copy_with(query=None, fragment=None, userinfo=b"")))


def _parse_retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date; None if unusable."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value)
    return seconds if math.isfinite(seconds) else None


def _seconds_until(http_date: str) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()
