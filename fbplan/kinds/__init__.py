"""The registry of resource kinds, in the order they are read and created.

Adding a kind is one module in this package and one line here (see docs/adding-a-kind.md):
everything else that depends on the set of kinds (spec sections, prune keys, secret fields,
references, export, addresses) is derived from the kind classes below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fbplan.kinds.ai_llm import AiLlmKind
from fbplan.kinds.base import UNNAMED, ApplyContext, Created, Kind, LiveContext, backend_name
from fbplan.kinds.bucket import BucketKind
from fbplan.kinds.policy import PolicyKind
from fbplan.kinds.provider_key import ProviderKeyKind
from fbplan.kinds.repo import RepoKind
from fbplan.kinds.repo_cloud_key import RepoCloudKeyKind
from fbplan.kinds.repo_keys import RepoAiApiKeyKind, RepoApiKeyKind
from fbplan.kinds.workspace import WorkspaceKind
from fbplan.kinds.workspace_member import WorkspaceMemberKind

KINDS: tuple[Kind, ...] = (
    WorkspaceKind(),
    ProviderKeyKind(),
    BucketKind(),
    AiLlmKind(),
    RepoKind(),
    RepoApiKeyKind(),
    RepoAiApiKeyKind(),
    RepoCloudKeyKind(),
    PolicyKind(),
    WorkspaceMemberKind(),
)
REGISTRY: dict[str, Kind] = {kind.name: kind for kind in KINDS}

#: Top-level spec sections of named entries (merged by name across the files of a folder).
NAMED_SECTIONS: tuple[str, ...] = tuple(kind.section for kind in KINDS if kind.named_section)
#: The keys of `prune:` when it is a mapping, one per kind.
PRUNE_KEYS: tuple[str, ...] = tuple(kind.prune_key for kind in KINDS if kind.prune_key)
#: (section, field) of every secret field of a top-level section: `<section>.<name>.<field>`.
SECRET_FIELDS: frozenset[tuple[str, str]] = frozenset(
    (kind.section, field) for kind in KINDS if kind.named_section for field in kind.secret_fields
)

__all__ = [
    "KINDS",
    "NAMED_SECTIONS",
    "PRUNE_KEYS",
    "REGISTRY",
    "SECRET_FIELDS",
    "ApplyContext",
    "Created",
    "Kind",
    "LiveContext",
]


def renamed_keys(spec: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(kind, backend name) -> spec key of the entries whose `name:` differs from their key
    or that were `renamed_from:` another name, of that former name (unless an entry has it
    as its name), and (kind, `id:<id>`) of the id an entry `match:`es: the live reader
    addresses those objects by the key (`LiveContext.keys`)."""
    keys: dict[tuple[str, str], str] = {}
    for kind in KINDS:
        if not kind.named_section:
            continue
        entries = [(k, b) for _, k, b in kind.spec_entries(spec) if isinstance(b, Mapping)]
        names = {backend_name(key, body): key for key, body in entries}
        for key, body in entries:
            name, former = backend_name(key, body), body.get("renamed_from")
            if name != key or former:  # with a former name, the key is taken: say by whom
                keys[(kind.name, name)] = key
            if kind.renames_in_place and former and str(former) not in names:
                keys[(kind.name, str(former))] = key
            match = body.get("match")
            if kind.adopt_by_id and isinstance(match, Mapping) and match.get("id"):
                keys[(kind.name, f"{UNNAMED}{match['id']}")] = key
    return keys
