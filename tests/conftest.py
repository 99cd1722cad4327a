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


@pytest.fixture(autouse=True)
def own_redaction_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a test registers for redaction (every value a spec reads from the environment
    or a file is) stays in that test, as it would stay in one fbplan process: a region
    read by one test's spec must not be masked in the next test's plan."""
    from fbplan.secrets import values as secret

    monkeypatch.setattr(secret, "_known", set(secret._known))
