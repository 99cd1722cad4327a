"""`fbplan export`: the spec of what exists in a workspace, to start managing it.

Write-only secrets cannot be read back: the exported spec refers to environment variables
named after the resource (e.g. `${env:FB_BUCKET_MEDIA_SECRET}`) for the user to provide.
A name that is not a valid spec key (`my llm`, made in the console) is exported under the
key the live reader made of it (`read_live(..., generate_keys=True)`) with `name:`.
A provider key without a description is exported under a made-up key (`provider_key-3f2a1b2c`)
with `match: {id: ...}`, so that it is adopted. Objects the spec cannot name are left out
and listed in a comment: an object that refers to any object outside the workspace by id,
and what belongs to or refers to an object left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from fbplan.kinds import KINDS, REGISTRY
from fbplan.kinds.base import UNNAMED
from fbplan.model import Resource, State
from fbplan.secrets.envnames import env_name

# No schema URL is published: the hint names fbplan's own schema file, by the relative
# path fbplan's examples use, as a commented-out line (editors only read an uncommented one).
SCHEMA_HINT = (
    "# To have an editor complete and check this file (yaml-language-server), put this as\n"
    "# its first line, with the path from this file to fbplan's schemas/fbplan.schema.json:\n"
    "#   # yaml-language-server: $schema=../schemas/fbplan.schema.json\n"
)


def export_spec(live: State) -> str:
    """The spec YAML of `live`, with a comment listing what was left out and why."""
    spec: dict[str, Any] = {"version": 1, "workspace": live.workspace}
    exported: dict[str, dict[str, Any]] = {}  # address -> body
    left_out: dict[str, str] = {}  # address -> why
    env_names: set[str] = set()
    for resource in _in_dependency_order(live):
        why = _why_left_out(resource, exported, left_out)
        if why:
            left_out[resource.address] = why
            continue
        kind = REGISTRY[resource.kind]
        owner = exported[resource.parent] if kind.parent_kind and resource.parent else spec
        exported[resource.address] = _body(resource, env_names)
        owner.setdefault(kind.section, {})[resource.key] = exported[resource.address]
    header = f"# Exported from workspace {live.workspace} by fbplan export.\n" + SCHEMA_HINT
    if left_out:
        header += "# Left out (the spec cannot name them):\n"
        header += "".join(f"#   {address}: {why}\n" for address, why in left_out.items())
    return header + yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, width=100)


def _in_dependency_order(live: State) -> Iterator[Resource]:
    """Every resource but the workspace, kind by kind in the registry's order (so what a
    resource refers to comes first), by address within a kind."""
    for kind in KINDS:
        if not kind.root:
            yield from sorted(live.of_kind(kind.name), key=lambda r: r.address)


def _why_left_out(
    resource: Resource, exported: Mapping[str, Any], left_out: Mapping[str, str]
) -> str | None:
    if resource.name.startswith(UNNAMED) and not _adoptable(resource):
        return f"it has no name (id {resource.id})"
    if resource.parent and resource.parent not in exported:
        return f"its repo {resource.parent} is left out"
    unnamed = _unnamed_references(resource)
    if unnamed:
        return "it refers by id to " + ", ".join(unnamed)
    gone = [ref for ref in resource.refs if ref in left_out]
    if gone:
        return "it refers to " + ", ".join(gone) + ", left out"
    return None


def _adoptable(resource: Resource) -> bool:
    """An object with no name that the spec can still adopt, by `match: {id: ...}` under
    the key the live reader made up for it."""
    return REGISTRY[resource.kind].adopt_by_id and not resource.key.startswith(UNNAMED)


def _unnamed_references(resource: Resource) -> list[str]:
    """The references of `resource` (`Kind.references`, read in its attrs) naming an object
    the live reader knows only by id."""
    return [
        f"{reference.kind} {name.removeprefix(UNNAMED)}"
        for reference in REGISTRY[resource.kind].references
        if reference.path  # a reference by the object's own name is checked as its name
        for _, name in reference.names(resource.name, resource.attrs)
        if name.startswith(UNNAMED)
    ]


def _body(resource: Resource, env_names: set[str]) -> dict[str, Any]:
    body = {k: v for k, v in resource.attrs.items() if v not in (None, "", [])}
    if resource.name.startswith(UNNAMED):  # no name: adopted by its id
        body = {"match": {"id": resource.id}, **body}
    elif resource.name != resource.key:  # a name that is not a valid key
        body = {"name": resource.name, **body}
    kind = REGISTRY[resource.kind]
    for field in kind.secret_fields:
        if kind.exports_secret(resource.attrs, field):
            name = _unique(env_name("FB", resource.address, field), env_names)
            body[field] = "${env:" + name + "}"
    return body


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... if another resource's secret already has it."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    taken.add(candidate)
    return candidate
