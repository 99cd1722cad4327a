"""Names other workspaces of the organization use, read for the plan's name-conflict rule.

Bucket names (and the provider bucket each registers) are unique in the whole organization,
not only in a workspace, and so may be repository names. A plan that creates one whose
name another workspace already uses would fail in the middle of apply; the planner blocks
it first (`fbplan.plan.safety.name_conflicts`), asking `OrgNames` only about the kinds it
creates: one organization-wide list call per kind, made at most once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fbplan.kinds import REGISTRY
from fbplan.kinds.base import Api, WorkspaceListKind


class OrgNames:
    """The names taken in workspaces other than `workspace_id` (None: the workspace does
    not exist yet, so every workspace is another)."""

    def __init__(self, api: Api, workspace_id: str | None) -> None:
        self._api = api
        self._workspace_id = workspace_id
        self._items: dict[str, list[Mapping[str, Any]]] = {}

    def taken(self, kind: str, field: str) -> frozenset[str]:
        """The values of `field` that objects of `kind` use in other workspaces (the kind's
        organization-wide list, read once)."""
        known = REGISTRY[kind]
        unique = next((u for u in known.org_unique if u.field == field), None)
        if unique is None or not isinstance(known, WorkspaceListKind):
            return frozenset()
        if kind not in self._items:
            items = self._api.get(known.path).get(known.list_field, [])
            self._items[kind] = [i for i in items if i.get("workspaceId") != self._workspace_id]
        answer_field = unique.answer_field
        return frozenset(
            str(i[answer_field]) for i in self._items[kind] if i.get(answer_field) is not None
        )
