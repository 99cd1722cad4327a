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

from fbplan.kinds.base import Api

#: Each kind whose names are unique in the organization: its organization-wide list call,
#: the key of the list in the answer, and the answer's field for each planned field.
_LISTS: dict[str, tuple[str, str, Mapping[str, str]]] = {
    "bucket": ("/bucket", "buckets", {"name": "name", "bucket": "bucket"}),
    "repo": ("/repo", "repos", {"name": "name"}),
}


class OrgNames:
    """The names taken in workspaces other than `workspace_id` (None: the workspace does
    not exist yet, so every workspace is another)."""

    def __init__(self, api: Api, workspace_id: str | None) -> None:
        self._api = api
        self._workspace_id = workspace_id
        self._items: dict[str, list[Mapping[str, Any]]] = {}

    def taken(self, kind: str, field: str) -> frozenset[str]:
        if kind not in _LISTS:
            return frozenset()
        path, key, fields = _LISTS[kind]
        if kind not in self._items:
            items = self._api.get(path).get(key, [])
            self._items[kind] = [i for i in items if i.get("workspaceId") != self._workspace_id]
        answer_field = fields[field]
        return frozenset(
            str(i[answer_field]) for i in self._items[kind] if i.get(answer_field) is not None
        )
