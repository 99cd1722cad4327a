"""The spec's `ignore` section applied to a desired and a live State, before the diff.

Two kinds of accepted drift, as Terraform's `lifecycle.ignore_changes` and octoDNS's
ignored records:

- ignored fields of a declared resource: the desired value of each is replaced by the
  live one, so the diff proposes no change for it and an update of another field sends
  the live value back unchanged. A resource that does not exist yet is created with the
  spec's value.
- unmanaged objects whose name matches an accepted pattern of their kind: removed from
  the live State, so they are neither listed as unmanaged nor pruned.

What was set aside is returned as `Ignored` records, counted by drift and plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from fbplan.model import Resource, State
from fbplan.plan.model import FieldChange, Ignored
from fbplan.secrets.values import MASK, carries_source


@dataclass(frozen=True)
class IgnoreRules:
    """`by_address`/`by_kind`: field names to ignore; `unmanaged`: kind -> name patterns.
    Keys of `by_kind` and `unmanaged` are kind names (`bucket`, `repo_api_key`)."""

    by_address: Mapping[str, frozenset[str]] = field(default_factory=dict)
    by_kind: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unmanaged: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # kind -> its spec section

    def __bool__(self) -> bool:
        return bool(self.by_address or self.by_kind or self.unmanaged)

    def fields_of(self, resource: Resource) -> dict[str, str]:
        """Ignored field -> the entry of `ignore.changes` that names it."""
        section = self.labels.get(resource.kind, resource.kind)
        found = {name: f"ignore.changes.{section}" for name in self.by_kind.get(resource.kind, ())}
        found |= {
            name: f"ignore.changes.{resource.address}"
            for name in self.by_address.get(resource.address, ())
        }
        return found

    def accepting(self, resource: Resource) -> str | None:
        """The pattern of `ignore.unmanaged` that accepts this live object, if any."""
        return next(
            (p for p in self.unmanaged.get(resource.kind, ()) if fnmatchcase(resource.name, p)),
            None,
        )


def set_aside(
    rules: IgnoreRules, desired: State, live: State
) -> tuple[State, State, list[Ignored]]:
    """The desired and live States with the ignored drift taken out, and what was."""
    if not rules:
        return desired, live, []
    ignored: list[Ignored] = []
    kept_desired = _copy(desired)
    for resource in desired:
        have = live.get(resource.address)
        kept_desired.add(_adopt_live(rules, resource, have, ignored) if have else resource)
    kept_live = _copy(live)
    accepted: dict[str, str] = {}  # address -> rule; an accepted object's children go with it
    for resource in live:  # sorted by address: a parent comes before its children
        rule = None if resource.address in desired.resources else _accepted(rules, resource)
        rule = rule or accepted.get(resource.parent or "")
        if rule is None:
            kept_live.add(resource)
            continue
        accepted[resource.address] = rule
        ignored.append(Ignored(resource.address, resource.kind, rule, live_id=resource.id))
    return kept_desired, kept_live, sorted(ignored, key=lambda i: i.address)


def _accepted(rules: IgnoreRules, resource: Resource) -> str | None:
    pattern = rules.accepting(resource)
    if pattern is None:
        return None
    return f"ignore.unmanaged.{rules.labels.get(resource.kind, resource.kind)}: {pattern}"


def _adopt_live(
    rules: IgnoreRules, want: Resource, have: Resource, ignored: list[Ignored]
) -> Resource:
    names = rules.fields_of(want)
    differing = sorted(
        name
        for name in names
        if name in want.attrs or name in have.attrs
        if want.attrs.get(name) != have.attrs.get(name)
    )
    if not differing:
        return want
    fields = tuple(_shown_change(name, have, want) for name in differing)
    rule = ", ".join(sorted({names[name] for name in differing}))
    ignored.append(Ignored(want.address, want.kind, rule, fields, have.id))
    adopted = {name: have.attrs.get(name) for name in differing}
    return replace(want, attrs={**want.attrs, **adopted})


def _shown_change(name: str, have: Resource, want: Resource) -> FieldChange:
    """live -> spec, with the live value hidden when the spec's comes from the environment
    or a file (as the diff shows it)."""
    after = want.attrs.get(name)
    return FieldChange(name, MASK if carries_source(after) else have.attrs.get(name), after)


def _copy(state: State) -> State:
    return State(state.workspace, org_id=state.org_id, notes=state.notes, hidden=state.hidden)
