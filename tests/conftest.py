"""Fixtures shared by every test layer."""

from __future__ import annotations

import os

import pytest

SECRET_ENV_PREFIXES = ("FB_", "AWS_", "OPENAI_")

# Every emulator the tests start, in-process or as a subprocess, checks its own answers
# against the API contract (a broken answer is a 500 naming the field).
os.environ["FBPLAN_EMULATOR_CHECK_RESPONSES"] = "1"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's Flashback or cloud credentials."""
    for name in list(os.environ):
        if name.startswith(SECRET_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
