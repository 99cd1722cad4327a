"""Faults on demand: WSGI middleware that makes any app slow, failing or unreachable.

A `FaultRule` matches requests by service (``backend``, ``bridge``, ``gateway`` or ``*``),
method and path (glob patterns, `fnmatch`: ``*`` also matches ``/``) and fires with a
probability, optionally only ``count`` times and only after ``skip`` matches. Actions:

    latency            sleep latency_ms (± jitter_ms), then handle normally (adds up)
    error              answer ``status`` (default 500) without handling the request
    throttle           answer 429 with ``Retry-After: retry_after``; with ``count: N`` the
                       next N matching requests form a burst
    drop               close the connection with no answer, request not handled
    commit_then_fail   handle (and store) the request, then answer ``status`` (default 500)
    commit_then_drop   handle the request, then close the connection with no answer
    commit_then_delay  handle the request, then hold the answer for delay_ms (a client with a
                       shorter timeout gives up although the change is stored)

Rules are checked in order; latency rules accumulate, the first terminal rule that fires wins.
All randomness (probabilities, jitter) comes from one ``random.Random(seed)``, so the same
seed and the same sequence of requests give the same faults. ``set_rules`` re-seeds.

A dropped connection on a real werkzeug server shuts the socket down (the client sees the
server disconnect without a response); in-process (httpx's WSGI transport) it raises
`ConnectionDropped`, which is both an ``httpx.RemoteProtocolError`` and a ``ConnectionError``,
so client code handles it as it would handle the real thing.

Rules come from Python dicts, from a JSON or YAML text (`parse_faults`) and from the admin
API. Paths under ``/_emulator/`` are never faulted.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx
import yaml
from werkzeug.test import run_wsgi_app

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

ACTIONS = (
    "latency",
    "error",
    "throttle",
    "drop",
    "commit_then_fail",
    "commit_then_drop",
    "commit_then_delay",
)
EXEMPT_PREFIXES = ("/_emulator/",)
ENVIRON_KEY = "fbplan.fault"  # the action applied, read by the request recorder
_ALIASES = {
    "latencyMs": "latency_ms",
    "jitterMs": "jitter_ms",
    "retryAfter": "retry_after",
    "delayMs": "delay_ms",
}
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ConnectionDropped(httpx.RemoteProtocolError, ConnectionError):
    """The emulator dropped the connection without an answer (fault injection)."""


@dataclass
class FaultRule:
    """One fault; see the module docstring for the actions and matching."""

    action: str
    method: str = "*"
    path: str = "*"
    service: str = "*"
    probability: float = 1.0
    count: int | None = None
    skip: int = 0
    status: int | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    retry_after: int = 1
    delay_ms: float = 0.0
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build and check a rule; camelCase aliases (``latencyMs``...) are accepted."""
        known = {f.name for f in fields(cls)} - {"seen", "fired"}
        values = {_ALIASES.get(k, k): v for k, v in data.items()}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
        if "action" not in values:
            raise ValueError("a fault rule needs an action")
        rule = cls(**values)
        rule.check()
        return rule

    def check(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(
                f"unknown fault action {self.action!r}; expected one of {', '.join(ACTIONS)}"
            )
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise ValueError("status must be an HTTP status code")
        for name in ("latency_ms", "jitter_ms", "delay_ms", "retry_after", "skip"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0")

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, service: str, method: str, path: str) -> bool:
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(method.upper(), self.method.upper())
            and fnmatch.fnmatchcase(path, self.path)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """What to do with one request: sleep `delay_s`, then apply `rule` (None = handle)."""

    delay_s: float = 0.0
    rule: FaultRule | None = None


def parse_faults(text: str) -> tuple[list[FaultRule], int | None]:
    """Rules (and a seed) from JSON or YAML: a list of rules or ``{rules: [...], seed: N}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = yaml.safe_load(text)
    return rules_from(data)


def rules_from(data: Any) -> tuple[list[FaultRule], int | None]:
    """Rules (and a seed) from parsed data: a list, or a mapping with ``rules`` and ``seed``."""
    seed = None
    if isinstance(data, Mapping):
        seed = data.get("seed")
        data = data.get("rules", [])
    if data is None:
        data = []
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise ValueError("fault rules must be a list of objects")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("seed must be an integer")
    return [FaultRule.from_dict(item) for item in data], seed


class FaultInjector:
    """Holds the rules and the seeded random source; `wrap` puts them around a WSGI app."""

    def __init__(
        self,
        rules: Iterable[FaultRule | Mapping[str, Any]] = (),
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._sleep = sleep
        self.seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = [_rule(r) for r in rules]

    def set_rules(
        self, rules: Iterable[FaultRule | Mapping[str, Any]], seed: int | None = None
    ) -> None:
        """Replace every rule (counters start at zero) and re-seed (with `seed` when given)."""
        new_rules = [_rule(r) for r in rules]
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)
            self._rules = new_rules

    def add_rules(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        new_rules = [_rule(r) for r in rules]
        with self._lock:
            self._rules.extend(new_rules)

    def clear(self) -> None:
        self.set_rules([])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [rule.to_dict() for rule in self._rules]}

    def decide(self, service: str, method: str, path: str) -> Decision:
        """Draw the faults for one request (advances counters and the random source)."""
        delay_ms, chosen = 0.0, None
        with self._lock:
            for rule in self._rules:
                terminal = rule.action != "latency"
                if (
                    (terminal and chosen)
                    or rule.exhausted
                    or not rule.matches(service, method, path)
                ):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                if terminal:
                    chosen = rule
                else:
                    jitter = (
                        self._rng.uniform(-rule.jitter_ms, rule.jitter_ms)
                        if rule.jitter_ms
                        else 0.0
                    )
                    delay_ms += max(0.0, rule.latency_ms + jitter)
        return Decision(delay_ms / 1000.0, chosen)

    def wrap(
        self, app: WsgiApp, service: str = "backend", exempt: Sequence[str] = EXEMPT_PREFIXES
    ) -> WsgiApp:
        """`app` with this injector's faults in front of it."""

        def faulty_app(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            path = environ.get("PATH_INFO") or "/"
            if any(path.startswith(prefix) for prefix in exempt):
                return app(environ, start_response)
            decision = self.decide(service, environ.get("REQUEST_METHOD", "GET"), path)
            if decision.delay_s:
                environ[ENVIRON_KEY] = "latency"
                self._sleep(decision.delay_s)
            if decision.rule is None:
                return app(environ, start_response)
            environ[ENVIRON_KEY] = decision.rule.action
            return self._apply(decision.rule, app, environ, start_response)

        return faulty_app

    def _apply(
        self,
        rule: FaultRule,
        app: WsgiApp,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        match rule.action:
            case "error":
                return _json_answer(start_response, rule.status or 500)
            case "throttle":
                headers = [("Retry-After", str(rule.retry_after))]
                return _json_answer(start_response, rule.status or 429, headers)
            case "drop":
                _drop(environ)
            case "commit_then_fail":
                _run(app, environ)
                return _json_answer(start_response, rule.status or 500)
            case "commit_then_drop":
                _run(app, environ)
                _drop(environ)
            case "commit_then_delay":
                status, headers, body = _run(app, environ)
                self._sleep(rule.delay_ms / 1000.0)
                start_response(status, headers)
                return [body]
        raise AssertionError(f"unhandled fault action {rule.action}")  # pragma: no cover


def _rule(value: FaultRule | Mapping[str, Any]) -> FaultRule:
    if isinstance(value, FaultRule):
        value.check()
        return value
    return FaultRule.from_dict(value)


def _run(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Handle the request fully (the change is committed) and keep the answer."""
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    try:
        body = b"".join(app_iter)
    finally:
        getattr(app_iter, "close", lambda: None)()
    return status, list(headers.to_wsgi_list()), body


def _drop(environ: Mapping[str, Any]) -> None:
    """Close the client connection without an answer (real server), then raise."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionDropped("Connection dropped by the emulator (fault injection)")


def _json_answer(
    start_response: Callable[..., Any], status: int, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    if status == 429:
        body = {"success": False, "message": "Too many requests; retry later"}
    else:
        body = {"success": False, "message": f"Injected fault: HTTP {status}"}
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *(headers or []),
        ],
    )
    return [payload]
