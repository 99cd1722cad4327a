"""Text from a spec or the backend, made safe to print: control characters escaped.

A name, a value or an error message may hold a newline (which would forge a line of a
plan or a log), an ANSI escape sequence (which would drive the terminal) or an invisible
bidirectional override (which would make a line read other than it is). `printable`
escapes them the way Python's `repr` does (`\\n`, `\\x1b`, `\\u202e`); every renderer and
the CLI's stderr pass user-supplied text through it.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI), line and paragraph separators,
# and the bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, *, keep: str = "") -> str:
    """`text` with every control character except those in `keep` escaped."""
    if _CONTROL.search(text) is None:  # most text: no substitution to set up
        return str.__str__(text)  # a plain str, as `sub` gives, even of a str subclass
    return _CONTROL.sub(lambda match: _escape(match.group(), keep), text)


def _escape(char: str, keep: str) -> str:
    if char in keep:
        return char
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def json_safe(text: str) -> str:
    """Encoded JSON with the controls `json.dumps` leaves raw (DEL, C1, bidi) as `\\uXXXX`,
    which any JSON reader decodes back to the same text."""
    return _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
