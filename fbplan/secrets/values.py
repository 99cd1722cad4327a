"""Secret values and the process-wide redaction they rely on.

A `Secret` wraps a sensitive string. Its `str`, `repr` and `format` show a mask, so a
secret put into a message, a log record or a plan by mistake shows up as `(sensitive)`.
Every secret value created in this process is also registered with `redact`, which
every output path (CLI renderers, logging, error messages, plan files) applies as a
last line of defence: even a value that escaped its wrapper is masked on the way out.
A value is masked in the forms it takes when a server echoes it back or a URL carries it:
as written, JSON-escaped (`"` as `\\"`, non-ASCII as `\\uXXXX`) and URL-encoded (`%22`,
`+` for a space).
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "(sensitive)"
_MIN_REDACTED_LENGTH = 4

_known: set[str] = set()
_known_lock = threading.Lock()
# `_known` sorted longest first, and the set (itself, not its id: a freed set's id may be
# reused by the next one) and size it was sorted from: values are only ever added, so a new
# size or a new set means sort again; most calls to `redact` do not. Last, what `redact`
# gave for short texts with these values (a plan redacts the same names thousands of
# times): a new sort starts an empty one, so no result outlives a value registered since.
_Sorted = tuple[set[str] | None, int, tuple[str, ...], dict[str, str]]
_sorted: _Sorted = (None, 0, (), {})
_MEMO_LENGTH = 200  # texts up to this length are remembered,
_MEMO_SIZE = 8192  # at most this many at once


class Secret:
    """A sensitive string; only `reveal()` gives the value."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str = "") -> None:
        self._value = value
        self.origin = origin  # e.g. "env:AWS_SECRET_ACCESS_KEY", never the value
        register(value)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self.origin or MASK})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled or serialized")


class Sourced(str):
    """Text that came, whole or in part, from `${env:NAME}` or `${file:PATH}`.

    It is the resolved text wherever fbplan compares it or sends it to the API (it is a
    `str`), and its `written` form (the spec's own text, e.g. `${env:AWS_ACCESS_KEY_ID}`)
    wherever fbplan shows it: a plan says which reference a value comes from, never the
    value. The resolved values are registered for redaction too, so a copy that lost this
    type (upper-cased by a kind, echoed by the backend) is still masked on the way out.
    """

    written: str

    def __new__(cls, value: str, written: str) -> Sourced:
        text = super().__new__(cls, value)
        text.written = written
        return text

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (str(self), self.written)

    def __repr__(self) -> str:
        return repr(self.written)


def shown(value: Any) -> Any:
    """What a plan shows for `value`: the written form of a `Sourced` text, else `value`."""
    return value.written if isinstance(value, Sourced) else value


def carries_source(value: Any) -> bool:
    """Whether `value` is, or holds (in a list or mapping), text from the environment or a
    file: such a value is shown by its reference, and the value it replaces is not shown."""
    if isinstance(value, Sourced):
        return True
    if isinstance(value, dict):
        return any(carries_source(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(carries_source(v) for v in value)
    return False


def register(value: str) -> None:
    """Remember a sensitive value so that `redact` masks it in any text, in each form."""
    if value and len(value) >= _MIN_REDACTED_LENGTH:
        with _known_lock:
            _known.update(_forms(value))


def _forms(value: str) -> set[str]:
    """`value` as written and as JSON and URLs encode it."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
    }


def redact(text: str) -> str:
    """Mask every registered secret value that occurs in `text` (longest first)."""
    if not text:
        return text
    current = _sorted  # one read: the lock is taken only to sort again
    if current[0] is not _known or current[1] != len(_known):
        current = _sort()
    if not current[2] or len(text) < len(current[2][-1]):
        return text  # shorter than the shortest value: none can occur in it
    memo = current[3] if type(text) is str and len(text) <= _MEMO_LENGTH else None
    if memo is not None and (done := memo.get(text)) is not None:
        return done
    original = text
    for value in current[2]:
        if value in text:
            text = text.replace(value, MASK)
    if memo is not None:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[original] = text
    return text


def _sort() -> _Sorted:
    global _sorted
    with _known_lock:
        if _sorted[0] is not _known or _sorted[1] != len(_known):
            values = tuple(sorted(_known, key=len, reverse=True))
            _sorted = (_known, len(_known), values, {})
        return _sorted


def reveal(value: Any) -> Any:
    """The plain value of a Secret, or the value itself; recurses into dicts and lists."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value
