"""The Flashback backend: the HTTP client (and, beside it, the live reader)."""

from __future__ import annotations

from fbplan.backend.client import DEFAULT_BACKEND_URL, BackendClient, ClientEvent

__all__ = ["DEFAULT_BACKEND_URL", "BackendClient", "ClientEvent"]
