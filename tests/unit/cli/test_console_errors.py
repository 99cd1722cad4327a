"""How the CLI reports an fbplan error: one sentence; under FBPLAN_DEBUG, also what caused it."""

from __future__ import annotations

import httpx
import pytest

from fbplan.cli.console import user_errors
from fbplan.errors import TransportError
from fbplan.secrets.values import MASK, register

SECRET = "debug-secret-value-0042"


def fail_to_connect() -> None:
    try:
        raise httpx.ConnectError(f"refused while sending {SECRET}")
    except httpx.ConnectError as exc:
        raise TransportError("GET", "/workspace", "could not connect") from exc


def report(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    register(SECRET)
    with pytest.raises(SystemExit) as exited, user_errors():
        fail_to_connect()
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_a_transport_error_is_one_sentence_without_its_cause(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FBPLAN_DEBUG", raising=False)
    assert report(monkeypatch, capsys).splitlines() == [
        "Error: GET /workspace got no response: could not connect."
    ]


def test_fbplan_debug_shows_the_cause_redacted_above_the_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FBPLAN_DEBUG", "1")
    text = report(monkeypatch, capsys)
    assert "httpx.ConnectError: refused while sending " + MASK in text
    assert "The above exception was the direct cause" in text
    assert SECRET not in text
    assert text.splitlines()[-1] == "Error: GET /workspace got no response: could not connect."
