"""Routes: the organization's users (``GET /organization/users``) and workspace members
(``/workspace/{id}/users``, flashback-api.md section 3).

Bodies reach these routes already checked against the API contract (``userId`` and ``role``
present, ``role`` one of READ, WRITE, ADMIN); the store adds the rules (`store_workspaces`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from fbplan.emulator.payload import json_body, ok
from fbplan.emulator.store import Store


def register(app: Flask, store: Store) -> None:
    @app.get("/organization/users")
    def org_users() -> Any:
        users = store.org_users()
        return ok(data=users, total=len(users))

    @app.post("/workspace/<workspace_id>/users")
    def add_member(workspace_id: str) -> Any:
        body = json_body()
        store.add_workspace_user(workspace_id, body["userId"], body["role"])
        return ok()

    @app.put("/workspace/<workspace_id>/users/<user_id>")
    def update_member(workspace_id: str, user_id: str) -> Any:
        store.update_workspace_user(workspace_id, user_id, json_body()["role"])
        return ok()

    @app.delete("/workspace/<workspace_id>/users/<user_id>")
    def remove_member(workspace_id: str, user_id: str) -> Any:
        store.remove_workspace_user(workspace_id, user_id)
        return ok()
