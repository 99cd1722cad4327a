"""The Flashback backend: the HTTP client (and, beside it, the live reader)."""

from __future__ import annotations

import sys

# httpx imports its own command-line tool when it can (`httpx._main`: rich and pygments,
# about a tenth of a second, more than the rest of httpx), which fbplan never runs: marked
# absent here, before any module of this package imports httpx, httpx goes without it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from fbplan.backend.client import DEFAULT_BACKEND_URL, BackendClient, ClientEvent  # noqa: E402

__all__ = ["DEFAULT_BACKEND_URL", "BackendClient", "ClientEvent"]
