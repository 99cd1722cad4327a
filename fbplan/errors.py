"""One error tree for everything fbplan reports to a user.

    FbplanError                     root; `str(err)` is one clear sentence, never a secret
    ├── SpecError                   a spec problem at file:line:column (one or many)
    ├── ConfigError                 bad flags, environment or local files
    ├── BackendError                a request to the backend failed (method, path, URL, ambiguous)
    │   ├── ApiError                the backend answered with an error (status, code)
    │   └── TransportError          no usable answer: timeout, refused or dropped connection
    ├── SafetyError                 blocked by a safety rule (exit code 3): delete not allowed,
    │                               protect, threshold, stale plan, lock held
    ├── CycleError                  resources depend on each other in a circle
    ├── StepFailed                  one apply step failed (the message says what to do)
    └── SmokeError                  a smoke check failed after a successful apply (exit code 4)

The CLI maps each class to an exit code with `exit_code`; nothing below the CLI prints.
As in httpx, a request that got no answer is not an answered error: `except ApiError` sees
what the backend said (a status, a code), `except BackendError` also a timeout. Where an
error translates another one it keeps it as its cause (`raise ... from exc`), which the CLI
shows only under FBPLAN_DEBUG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fbplan.printable import printable


class FbplanError(Exception):
    """Root of every error fbplan reports to a user."""

    exit_code = 1


_MAX_FIELD = 200


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec, located at file:line:column (1-based)."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        """One line, whatever the spec's names hold (control characters escaped, an
        overlong field path shortened)."""
        where = printable(f"{self.file}:{self.line}:{self.column}")
        field = self.field if len(self.field) <= _MAX_FIELD else self.field[: _MAX_FIELD - 1] + "…"
        message = printable(self.message)
        return f"{where}: {printable(field)}: {message}" if field else f"{where}: {message}"


class SpecError(FbplanError):
    """The spec is invalid; carries every problem found, sorted by location."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.field))
        self.warnings: list[SpecProblem] = []  # shown too: they may explain the problems
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "invalid spec"
        super().__init__(first if count == 1 else f"{count} problems in the spec; first: {first}")


class ConfigError(FbplanError):
    """A flag, environment variable or local file is wrong."""


class BackendError(FbplanError):
    """A request to the Flashback backend failed, answered or not.

    Carries the method, the path (never the query string's secrets, never headers) and the
    URL. `ambiguous` is true when a non-idempotent request (a create) failed after it may
    have reached the server: the caller must re-read by name before any retry.
    """

    method: str
    path: str
    url: str | None
    ambiguous: bool

    @property
    def origin(self) -> str:
        """`scheme://host:port` of the backend that answered (or did not), if known."""
        if not self.url or "://" not in self.url:
            return ""
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"


class ApiError(BackendError):
    """The Flashback backend answered a request with an error: the HTTP status and the API's
    own error code and message. `foreign` is true when the answer does not look like the
    Flashback API's (a wrong backend URL, most likely).
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        code: str | None = None,
        message: str | None = None,
        url: str | None = None,
        *,
        ambiguous: bool = False,
        foreign: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.api_message = message
        self.url = url
        self.ambiguous = ambiguous
        self.foreign = foreign
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        detail = ": ".join(part for part in (self.code, self.api_message) if part)
        tail = f" ({detail})" if detail else ""
        hint = ""
        if self.foreign:
            hint = (
                f" The answer from {self.url or 'the backend'} does not look like the Flashback "
                "API: check FB_BACKEND_URL."
            )
        elif self.status == 401:
            where = f" at {self.origin}" if self.origin else ""
            hint = f" Check FB_JWT: the backend{where} did not accept the token."
        return f"{self.method} {self.path} failed with {status}{tail}.{hint}"


class TransportError(BackendError):
    """No usable answer: a timeout, a refused or a dropped connection. Not an `ApiError`:
    the backend said nothing (no status, no code)."""

    def __init__(
        self,
        method: str,
        path: str,
        reason: str,
        url: str | None = None,
        *,
        ambiguous: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.url = url
        self.ambiguous = ambiguous
        where = f" from {self.origin} (FB_BACKEND_URL)" if self.origin else ""
        super().__init__(f"{method} {path} got no response{where}: {reason}.")


class SafetyError(FbplanError):
    """A safety rule blocked the operation (exit code 3)."""

    exit_code = 3


class CycleError(FbplanError):
    """Resources depend on each other in a circle; `cycle` holds the steps around it."""

    cycle: list[Any]


class StepFailed(FbplanError):
    """One apply step failed; the message says what and, where it matters, what to do."""


class SmokeError(FbplanError):
    """Apply succeeded but a smoke check failed (exit code 4)."""

    exit_code = 4
