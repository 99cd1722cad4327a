"""The registry of resource kinds, in the order they are read and created.

Adding a kind is one module in this package and one line here.
"""

from __future__ import annotations

from fbplan.kinds.ai_llm import AiLlmKind
from fbplan.kinds.base import ApplyContext, Created, Kind, LiveContext
from fbplan.kinds.bucket import BucketKind
from fbplan.kinds.policy import PolicyKind
from fbplan.kinds.provider_key import ProviderKeyKind
from fbplan.kinds.repo import RepoKind
from fbplan.kinds.repo_keys import RepoAiApiKeyKind, RepoApiKeyKind
from fbplan.kinds.workspace import WorkspaceKind

KINDS: tuple[Kind, ...] = (
    WorkspaceKind(),
    ProviderKeyKind(),
    BucketKind(),
    AiLlmKind(),
    RepoKind(),
    RepoApiKeyKind(),
    RepoAiApiKeyKind(),
    PolicyKind(),
)
REGISTRY: dict[str, Kind] = {kind.name: kind for kind in KINDS}

__all__ = ["KINDS", "REGISTRY", "ApplyContext", "Created", "Kind", "LiveContext"]
