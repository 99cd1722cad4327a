"""The extras the missing-package errors name are the ones pyproject.toml declares, and
the base install leaves their packages out (the e2e tests run the CLI without them)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fbplan import extras
from fbplan.errors import ConfigError

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _project() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


@pytest.mark.parametrize("extra", [extras.AI, extras.CHECKS], ids=lambda e: e.name)
def test_each_extra_installs_its_package_and_the_base_does_not(extra: extras.Extra) -> None:
    project = _project()
    optional = project["optional-dependencies"]
    assert [r for r in optional[extra.name] if r.startswith(extra.package + ">")]
    assert not [r for r in project["dependencies"] if r.startswith(extra.package)]
    assert extras.installed(extra)  # the test extra installs every extra


def test_all_gathers_the_extras_and_the_test_extra_installs_all() -> None:
    optional = _project()["optional-dependencies"]
    assert optional["all"] == ["fbplan[ai,checks]"]
    assert "fbplan[all]" in optional["test"]


def test_a_missing_package_is_one_sentence_with_the_pip_command() -> None:
    missing = extras.Extra("ai", "fbplan_no_such_module", "openai", "AI smoke checks")
    with pytest.raises(ConfigError) as raised:
        extras.require(missing, "spec.yaml:3:1: smoke.ai")
    assert str(raised.value) == (
        "spec.yaml:3:1: smoke.ai: AI smoke checks need the openai package, which is not "
        "installed; install it with: pip install 'fbplan[ai]'"
    )
