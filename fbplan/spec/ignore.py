"""The spec's `ignore` and `approve` sections: reading them, and what `validate` checks.

    ignore:
      changes:                     # fields whose drift is accepted (Terraform's ignore_changes)
        buckets: [region]          #   per kind (its spec section): every bucket
        repo.app: [mode]           #   per address: one resource
      unmanaged:                   # live objects the spec does not declare, accepted by name
        buckets: ["tmp-*"]         #   fnmatch globs over the object's name, per kind
    approve:                       # destructive changes reviewed in the pull request
      - delete bucket.old-media
      - replace repo.app.api_key.app-rw

A secret field is never ignored (a rotation must not go unseen): naming one is an error,
like a field the kind does not have. An entry that matches nothing declared is a warning.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from fbplan.errors import SpecProblem
from fbplan.kinds import KINDS, Kind
from fbplan.kinds.base import kind_of_address
from fbplan.model import State
from fbplan.plan.ignore import IgnoreRules
from fbplan.spec.loader import Spec
from fbplan.spec.validate import load_schema

APPROVABLE = ("delete", "replace")
_BY_SECTION: dict[str, Kind] = {kind.section: kind for kind in KINDS if kind.name != "workspace"}
_BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}


def ignore_rules(data: Mapping[str, Any]) -> IgnoreRules:
    """The `ignore` section as rules (a validated spec: unknown keys were refused)."""
    section = data.get("ignore") or {}
    by_address: dict[str, frozenset[str]] = {}
    by_kind: dict[str, frozenset[str]] = {}
    for key, names in (section.get("changes") or {}).items():
        if key in _BY_SECTION:
            by_kind[_BY_SECTION[key].name] = frozenset(names)
        else:
            by_address[key] = frozenset(names)
    unmanaged = {
        _BY_SECTION[key].name: tuple(patterns)
        for key, patterns in (section.get("unmanaged") or {}).items()
        if key in _BY_SECTION
    }
    labels = {kind.name: kind.section for kind in _BY_SECTION.values()}
    return IgnoreRules(by_address, by_kind, unmanaged, labels)


def approvals(data: Mapping[str, Any]) -> list[str]:
    """The `approve` entries, normalized to "ACTION ADDRESS" (single spaces)."""
    return [" ".join(str(entry).split()) for entry in data.get("approve") or ()]


def ignore_problems(spec: Spec) -> list[SpecProblem]:
    """Errors: a field the kind does not have, or a secret field, in `ignore.changes`."""
    changes = (spec.data.get("ignore") or {}).get("changes") or {}
    return [
        spec.problem(("ignore", "changes", key, index), message)
        for key, names in changes.items()
        for index, name in enumerate(names)
        if (message := _field_problem(key, str(name)))
    ]


def ignore_warnings(spec: Spec, desired: State) -> list[str]:
    """Entries of `ignore` and `approve` that can match nothing (a typo ignores nothing)."""
    return list(_unknown_addresses(spec, desired)) + list(_managed_patterns(spec, desired))


def _kind_for_key(key: str) -> Kind | None:
    if key in _BY_SECTION:
        return _BY_SECTION[key]
    try:
        return _BY_NAME.get(kind_of_address(key))
    except KeyError:
        return None


def _field_problem(key: str, name: str) -> str | None:
    kind = _kind_for_key(key)
    if kind is None:
        sections = ", ".join(_BY_SECTION)
        return f"{key} is neither a kind ({sections}) nor a resource address"
    if name in kind.secret_fields:
        return (
            f"{name} is a secret field: its changes are never ignored (a rotation must "
            "not go unseen); remove it"
        )
    fields = sorted(_comparable_fields(kind))
    if name in fields:
        return None
    close = difflib.get_close_matches(name, fields, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"a {kind.label} has no field {name}{hint}; fields: {', '.join(fields)}"


def _comparable_fields(kind: Kind) -> set[str]:
    """The fields of a kind's spec entry (from the JSON Schema) that the diff compares: not
    its secrets, its child sections or the settings `protect`, `match` and `renamed_from`."""
    children = {child.section for child in KINDS if child.parent_kind == kind.name}
    return set(_entry_schema(kind).get("properties", {})) - (
        children | set(kind.secret_fields) | {"protect", "match", "renamed_from"}
    )


def _entry_schema(kind: Kind) -> dict[str, Any]:
    """The JSON Schema of one entry of the kind's section (or of its parent's field)."""
    schema = load_schema()
    if kind.parent_kind is None:
        section = schema["properties"].get(kind.section, {})
    else:
        parent = _entry_schema(next(k for k in KINDS if k.name == kind.parent_kind))
        section = parent.get("properties", {}).get(kind.section, {})
    entry = section.get("additionalProperties", section)
    while isinstance(entry, dict) and ("$ref" in entry or "allOf" in entry):
        ref = entry["$ref"] if "$ref" in entry else entry["allOf"][0]["$ref"]
        entry = schema["$defs"][ref.rsplit("/", 1)[-1]]
    return entry if isinstance(entry, dict) else {}


def _unknown_addresses(spec: Spec, desired: State) -> Iterator[str]:
    changes = (spec.data.get("ignore") or {}).get("changes") or {}
    for key in changes:
        if _declares_none(key, desired):
            where = spec.location(("ignore", "changes", key))
            yield f"{where}: ignore.changes.{key}: the spec declares no {key}; it ignores nothing"
    for index, entry in enumerate(approvals(spec.data)):
        action, address = entry.split(" ", 1)
        if action == "replace" and address not in desired.resources:
            where = spec.location(("approve", index))
            yield (
                f"{where}: approve: {entry}: the spec does not declare {address}, so it "
                "cannot be replaced; check the address"
            )


def _declares_none(key: str, desired: State) -> bool:
    """Whether a key of `ignore.changes` (a kind or an address) names nothing declared."""
    if key in _BY_SECTION:
        return not desired.of_kind(_BY_SECTION[key].name)
    return key not in desired.resources


def _managed_patterns(spec: Spec, desired: State) -> Iterator[str]:
    """A pattern that matches declared names: those are managed whatever their name."""
    for section, patterns in ((spec.data.get("ignore") or {}).get("unmanaged") or {}).items():
        names = sorted(r.name for r in desired if r.kind == _BY_SECTION[section].name)
        for index, pattern in enumerate(patterns):
            matched = [name for name in names if fnmatchcase(name, pattern)]
            if matched:
                where = spec.location(("ignore", "unmanaged", section, index))
                yield (
                    f"{where}: ignore.unmanaged.{section}: {pattern} matches declared "
                    f"{section} ({', '.join(matched[:5])}), which stay managed; "
                    "the pattern only accepts objects the spec does not declare"
                )
