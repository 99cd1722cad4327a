"""Optional features and the extras of pyproject.toml that install their packages.

The base install runs the quickstart (`fbplan apply --local --yes examples/quickstart.yaml`):
validate, plan, apply, the emulator and the storage smoke check. Two features need a large
package of their own, so they are extras:

    feature                      package      extra    install
    AI smoke checks (smoke.ai)   openai       ai       pip install 'fbplan[ai]'
    plan checks (--checks FILE)  cel-python   checks   pip install 'fbplan[checks]'

A command that needs one calls `require` as soon as it knows (the spec or the checks file
is read), before any request is sent: a missing package never stops an apply half way.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from fbplan.errors import ConfigError


@dataclass(frozen=True)
class Extra:
    """One extra: its name in `pip install 'fbplan[NAME]'`, the module it makes importable,
    the package pip installs for it and the feature that needs it (plural, as said)."""

    name: str
    module: str
    package: str
    feature: str


AI = Extra("ai", "openai", "openai", "AI smoke checks")
CHECKS = Extra("checks", "celpy", "cel-python", "plan checks")


def installed(extra: Extra) -> bool:
    """Whether the extra's module imports. Imported, not just looked up: it is about to be
    used, and a package that is there but broken must be reported too."""
    try:
        importlib.import_module(extra.module)
    except ImportError:
        return False
    return True


def require(extra: Extra, where: str) -> None:
    """Raise ConfigError, one sentence naming `where` the feature was asked for (a spec's
    file:line:column and field, or an option and its value) and the command that installs
    it, unless the extra's module imports."""
    if not installed(extra):
        raise ConfigError(
            f"{where}: {extra.feature} need the {extra.package} package, which is not "
            f"installed; install it with: pip install 'fbplan[{extra.name}]'"
        )
