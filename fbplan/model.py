"""The types shared by the desired side (built from the spec) and the live side (read from
the backend): one `Resource` per address, gathered in a `State`.

Both sides use the same types so that the diff is a pure function of two States, and so
that "apply, then plan again" can be checked to be empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fbplan.secrets.values import Secret

WORKSPACE_ADDRESS = "workspace"


@dataclass(frozen=True)
class Resource:
    """One object of one kind, desired or live.

    `attrs` holds the comparable fields, already normalized by the kind (server defaults,
    list order, enum spellings) and never a secret. `secrets` holds the desired values of
    write-only fields (always empty on the live side). `refs` are the addresses this
    resource depends on. `id` is the backend id (live side, or after creation). `extra`
    holds live-only facts that are shown but never compared (e.g. a storage key's key id).
    """

    kind: str
    address: str
    name: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    parent: str | None = None
    id: str | None = None
    protect: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The key of its spec entry: its address without the parent and segment
        (`my-llm` in `ai_llm.my-llm`); `name` is its name in the backend, which may differ."""
        own = self.address.removeprefix(f"{self.parent}.") if self.parent else self.address
        return own.split(".", 1)[-1]


@dataclass
class State:
    """Every resource of one workspace, by address, plus what the live side knows of ids."""

    workspace: str
    resources: dict[str, Resource] = field(default_factory=dict)
    org_id: str | None = None
    notes: list[str] = field(default_factory=list)
    hidden: list[Resource] = field(default_factory=list)  # read, but not this spec's business

    def add(self, resource: Resource) -> None:
        if resource.address in self.resources:
            raise ValueError(f"duplicate address {resource.address}")
        self.resources[resource.address] = resource

    def get(self, address: str) -> Resource | None:
        return self.resources.get(address)

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.kind == kind]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources[a] for a in sorted(self.resources))

    def __len__(self) -> int:
        return len(self.resources)

    @property
    def workspace_id(self) -> str | None:
        ws = self.resources.get(WORKSPACE_ADDRESS)
        return ws.id if ws else None

    def ids(self) -> dict[str, str]:
        """Backend id of every resource that has one, by address."""
        return {a: r.id for a, r in self.resources.items() if r.id}


def child_address(parent: str, segment: str, name: str) -> str:
    return f"{parent}.{segment}.{name}"
