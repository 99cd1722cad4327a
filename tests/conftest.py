"""Fixtures shared by every test layer."""

from __future__ import annotations

import os

import pytest

SECRET_ENV_PREFIXES = ("FB_", "AWS_", "OPENAI_")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's Flashback or cloud credentials."""
    for name in list(os.environ):
        if name.startswith(SECRET_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
