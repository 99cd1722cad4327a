"""Redaction reads the registry as it is now, even right after it was swapped for another."""

from __future__ import annotations

import pytest

from fbplan.secrets import values as secret


def test_a_swapped_registry_of_the_same_size_is_read_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sorted copy is keyed by the set itself: a new set of the same size, which CPython
    often places at the freed old one's address (so with its id), must be read anew."""
    monkeypatch.setattr(secret, "_known", set())  # restored after the test
    for round_ in range(50):
        old = f"first-registry-value-{round_:02d}"
        secret._known = {old}
        assert secret.redact(old) == secret.MASK
        new = f"other-registry-value-{round_:02d}"
        secret._known = set()  # the old set is freed here ...
        secret._known = {new}  # ... and this one may take its place, and its id
        assert secret.redact(new) == secret.MASK
        assert secret.redact(old) == old
