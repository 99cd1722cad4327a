"""Helpers for the spec-stage tests: fixture paths, inline specs, problem lists."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from fbplan.errors import SpecError
from fbplan.spec import Spec, load_spec

FIXTURES = Path(__file__).parent / "fixtures"

FULL_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value-do-not-print",
    "OPENAI_API_KEY": "sk-openai-secret-do-not-print",
}

HEADER = "version: 1\nworkspace: acme\n"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec (dedented; `HEADER` prepended unless `header=False`) and return its path."""

    def write(text: str, *, name: str = "spec.yaml", header: bool = True) -> Path:
        path = tmp_path / name
        path.write_text((HEADER if header else "") + textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def _problems(path: Path | str, **kwargs: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path, **kwargs)
    return [str(problem) for problem in caught.value.problems]


def _messages(path: Path | str, **kwargs: Any) -> list[str]:
    return [text.split(": ", 1)[1] for text in _problems(path, **kwargs)]


def _load(path: Path | str, env: Mapping[str, str] | None = None, **kwargs: Any) -> Spec:
    return load_spec(path, env=env if env is not None else FULL_ENV, **kwargs)


@pytest.fixture
def problems() -> Callable[..., list[str]]:
    """The problems `load_spec` reports, as `file:line:column: field: message` strings."""
    return _problems


@pytest.fixture
def messages() -> Callable[..., list[str]]:
    """The problems without their location: `field: message`."""
    return _messages


@pytest.fixture
def load() -> Callable[..., Spec]:
    """`load_spec` with `FULL_ENV` as the environment unless `env=` is given."""
    return _load


@pytest.fixture
def full_env() -> dict[str, str]:
    return dict(FULL_ENV)
