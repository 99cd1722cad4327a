"""Secret values and the process-wide redaction they rely on.

A `Secret` wraps a sensitive string. Its `str`, `repr` and `format` show a mask, so a
secret put into a message, a log record or a plan by mistake shows up as `(sensitive)`.
Every secret value created in this process is also registered with `redact`, which
every output path (CLI renderers, logging, error messages, plan files) applies as a
last line of defence: even a value that escaped its wrapper is masked on the way out.
"""

from __future__ import annotations

import threading
from typing import Any

MASK = "(sensitive)"
_MIN_REDACTED_LENGTH = 4

_known: set[str] = set()
_known_lock = threading.Lock()
# `_known` sorted longest first, and the (set, size) it was sorted from: values are only ever
# added, so a new size (or a new set) means sort again; most calls to `redact` do not.
_sorted: tuple[tuple[int, int], tuple[str, ...]] = ((0, 0), ())


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


def register(value: str) -> None:
    """Remember a sensitive value so that `redact` masks it in any text."""
    if value and len(value) >= _MIN_REDACTED_LENGTH:
        with _known_lock:
            _known.add(value)


def redact(text: str) -> str:
    """Mask every registered secret value that occurs in `text` (longest first)."""
    if not text:
        return text
    global _sorted
    with _known_lock:
        if _sorted[0] != (id(_known), len(_known)):
            _sorted = ((id(_known), len(_known)), tuple(sorted(_known, key=len, reverse=True)))
        values = _sorted[1]
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def reveal(value: Any) -> Any:
    """The plain value of a Secret, or the value itself; recurses into dicts and lists."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value
