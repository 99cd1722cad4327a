"""Request log and counters of the emulator (``GET /_emulator/requests`` and ``/counters``).

Each entry holds only the service, method, path (no query string), status, duration, the
injected fault if any, and the time: never bodies or headers. Counters are keyed by method
and path template (``"POST /repo/{repoId}/apikey"``; other services are prefixed with their
name, e.g. ``"bridge PUT /{bucket}/{key}"``), so benchmarks and tests can count calls.
Admin calls (``/_emulator/...``) are neither logged nor counted.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fbplan.emulator.faults import ENVIRON_KEY, EXEMPT_PREFIXES
from fbplan.emulator.store_base import now_iso

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TemplateFor = Callable[[str, str], str]
TEMPLATE_KEY = "fbplan.template"  # an app that routed the request may leave its template here


def s3_template(method: str, path: str) -> str:
    """Path template of a Bridge Node request: ``/``, ``/{bucket}`` or ``/{bucket}/{key}``."""
    parts = path.lstrip("/").split("/", 1)
    if not parts[0] or path == "/health":
        return path
    return "/{bucket}" if len(parts) == 1 or not parts[1] else "/{bucket}/{key}"


class RequestRecorder:
    """Keeps the last `max_entries` requests and a count per method + path template."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._counters: Counter[str] = Counter()

    def wrap(
        self,
        app: WsgiApp,
        service: str = "backend",
        template_for: TemplateFor | None = None,
        exempt: Sequence[str] = EXEMPT_PREFIXES,
    ) -> WsgiApp:
        def recorded_app(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            path = environ.get("PATH_INFO") or "/"
            if any(path.startswith(prefix) for prefix in exempt):
                return app(environ, start_response)
            method = environ.get("REQUEST_METHOD", "GET")
            seen: dict[str, int] = {}

            def recording_start_response(status: str, headers: Any, *args: Any) -> Any:
                seen["status"] = int(status.split(" ", 1)[0])
                return start_response(status, headers, *args)

            started = time.monotonic()
            try:
                return app(environ, recording_start_response)
            finally:
                template = environ.get(TEMPLATE_KEY) or (
                    template_for(method, path) if template_for else path
                )
                self._add(service, method, path, template, seen.get("status"), started, environ)

        return recorded_app

    def _add(
        self,
        service: str,
        method: str,
        path: str,
        template: str,
        status: int | None,
        started: float,
        environ: dict[str, Any],
    ) -> None:
        entry = {
            "at": now_iso(),
            "service": service,
            "method": method,
            "path": path,
            "status": status,
            "durationMs": round((time.monotonic() - started) * 1000, 3),
            "fault": environ.get(ENVIRON_KEY),
        }
        key = f"{method} {template}" if service == "backend" else f"{service} {method} {template}"
        with self._lock:
            self._entries.append(entry)
            self._counters[key] += 1

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._entries)
        return items[-limit:] if limit else items

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counters.items()))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counters.clear()
