"""System events: who wrote what, when; and the emulated users who make those writes.

The backend records a system event for every write (`POST /systemevent` queries them, see
`fbplan/contract/systemevents.json`). The emulator does the same after every successful
POST, PUT or DELETE of the management API: the object's id (`contextId`), its context
(`workspace`, `bucket`, `repo`, `apikey` for provider keys and repo storage keys, `aillm`,
`aillmapikey`: the names of the official client's `ContextTypeHelper`), the event
(`created`, `updated`, `deleted`), the workspace, the time and the user. AI policies have no
context in that list and record no event; dry runs (`.../validate`) and statistics queries
are reads.

Users: the emulator's token belongs to its one built-in user; more users, each with its own
token, are added with the admin API (``POST /_emulator/users {email, name?}`` answers
``{userId, email, name, token}``), so a test can change an object "as someone else".
``POST /_emulator/reset`` forgets the events with the resources; users are kept.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from flask import Flask, Response, g, jsonify, request

from fbplan.emulator.payload import json_body, ok
from fbplan.emulator.problems import bad_request
from fbplan.emulator.store import Store
from fbplan.emulator.store_base import USER_PROFILE, new_id, now_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS emulated_users (
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS system_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, context_id TEXT NOT NULL,
    context TEXT NOT NULL, event TEXT NOT NULL, user_id TEXT NOT NULL, user_name TEXT NOT NULL,
    user_email TEXT NOT NULL, workspace_id TEXT, json_data TEXT);
CREATE INDEX IF NOT EXISTS system_events_ws ON system_events (workspace_id, id);
"""
#: The official client's ContextTypeHelper and EventTypeHelper lists (query indexes).
CONTEXTS = (
    "workspace",
    "bucket",
    "repo",
    "user",
    "org",
    "workspaceuser",
    "apikey",
    "usersettings",
    "orgsettings",
    "flashbacknode",
    "orgkey",
    "aillm",
    "aillmapikey",
    "conversation",
)
EVENTS = ("created", "updated", "deleted")
#: Route rule -> context of the object it writes (the last path parameter, or the new id).
WRITES = {
    "/workspace": "workspace",
    "/workspace/<workspace_id>": "workspace",
    "/apikeys": "apikey",
    "/apikeys/<apikey_id>": "apikey",
    "/bucket": "bucket",
    "/bucket/<bucket_id>": "bucket",
    "/ai/llm": "aillm",
    "/ai/llm/<ai_llm_id>": "aillm",
    "/repo": "repo",
    "/repo/<repo_id>": "repo",
    "/repo/<repo_id>/apikey": "apikey",
    "/repo/<repo_id>/apikey/<apikey_id>": "apikey",
    "/repo/<repo_id>/ai/apikey": "aillmapikey",
    "/repo/<repo_id>/ai/apikey/<apikey_id>": "aillmapikey",
}
_NEW_ID_KEYS = ("id", "bucketId", "repoId", "aiLlmId", "apiKeyId")
_WORKSPACE_TABLES = ("buckets", "repos", "ai_llms", "provider_keys")
MAX_TAKE = 100
RESET = "/_emulator/reset"


def install_tables(store: Store) -> None:
    with store._tx() as conn:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)


def user_for_token(store: Store, token: str) -> dict[str, str] | None:
    """The emulated user a bearer token belongs to (None: not one of theirs)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = store._one("SELECT * FROM emulated_users WHERE token_sha256 = ?", (digest,))
    return None if row is None else {"id": row["id"], "email": row["email"], "name": row["name"]}


def register(app: Flask, store: Store) -> None:
    install_tables(store)
    app.before_request(lambda: _remember_workspace(store))
    app.after_request(lambda response: _record(store, response))

    @app.post("/systemevent")
    def query_events() -> Response:
        return jsonify(_query(store, json_body()))

    @app.post("/_emulator/users")
    def add_user() -> Any:
        body = json_body()
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise bad_request("email must be an email address")
        name = str(body.get("name") or email.split("@", 1)[0])
        token = secrets.token_urlsafe(24)
        user_id = new_id()
        digest = hashlib.sha256(token.encode()).hexdigest()
        store._exec(
            "INSERT INTO emulated_users (id, email, name, token_sha256) VALUES (?, ?, ?, ?)",
            (user_id, email, name, digest),
        )
        return ok(201, userId=user_id, email=email, name=name, token=token)


def _current_user(store: Store) -> dict[str, str]:
    user = g.get("emulated_user")
    if user:
        return user
    return {"id": store.user_id, "email": USER_PROFILE["email"], "name": USER_PROFILE["name"]}


def _remember_workspace(store: Store) -> None:
    """Before an update or delete: the workspace of the object (a delete may erase it)."""
    rule = request.url_rule.rule if request.url_rule else ""
    if request.method in ("PUT", "DELETE") and rule in WRITES:
        g.event_workspace = _workspace_of(store, request.view_args or {})


def _workspace_of(store: Store, args: dict[str, Any]) -> str | None:
    if "workspace_id" in args:
        return str(args["workspace_id"])
    object_id = args.get("repo_id") or next(iter(args.values()), None)
    for table in _WORKSPACE_TABLES:
        row = store._one(f"SELECT workspace_id FROM {table} WHERE id = ?", (object_id,))
        if row is not None:
            return str(row["workspace_id"])
    return None


def _record(store: Store, response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule else ""
    if rule == RESET and response.status_code == 200:  # the events go with the resources
        store._exec("DELETE FROM system_events")
        return response
    if rule not in WRITES or request.method not in ("POST", "PUT", "DELETE"):
        return response
    if not 200 <= response.status_code < 300:
        return response
    answer = response.get_json(silent=True) or {}
    if request.method == "POST":
        object_id, event = _new_id(answer), "created"
        workspace = _created_in(store, answer)
    else:
        object_id = str(list((request.view_args or {}).values())[-1])
        event = "updated" if request.method == "PUT" else "deleted"
        workspace = g.get("event_workspace")
    if object_id:
        _insert(store, object_id, WRITES[rule], event, workspace)
    return response


def _new_id(answer: dict[str, Any]) -> str | None:
    if isinstance(answer.get("workspace"), dict):
        return str(answer["workspace"].get("id"))
    return next((str(answer[key]) for key in _NEW_ID_KEYS if answer.get(key)), None)


def _created_in(store: Store, answer: dict[str, Any]) -> str | None:
    if isinstance(answer.get("workspace"), dict):
        return str(answer["workspace"].get("id"))
    body = request.get_json(silent=True) or {}
    if body.get("workspaceId"):
        return str(body["workspaceId"])
    return _workspace_of(store, request.view_args or {})


def _insert(store: Store, object_id: str, context: str, event: str, workspace: str | None) -> None:
    user = _current_user(store)
    data = json.dumps({"method": request.method, "path": request.path})
    store._exec(
        "INSERT INTO system_events (ts, context_id, context, event, user_id, user_name, "
        "user_email, workspace_id, json_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            now_iso(),
            object_id,
            context,
            event,
            user["id"],
            user["name"],
            user["email"],
            workspace,
            data,
        ),
    )


def _query(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Newest first; filters as the client's SystemEventQueryRequest names them."""
    where, params = ["1 = 1"], []
    for field, column in (
        ("workspaceId", "workspace_id"),
        ("contextId", "context_id"),
        ("userId", "user_id"),
    ):
        if field in body:
            where.append(f"{column} = ?")
            params.append(body[field])
    if "context" in body:
        where.append("context = ?")
        params.append(CONTEXTS[body["context"]])
    if "event" in body:
        where.append("event = ?")
        params.append(EVENTS[body["event"]])
    if "from_timestamp" in body:
        where.append("ts >= ?")
        params.append(body["from_timestamp"])
    if "to_timestamp" in body:
        where.append("ts <= ?")
        params.append(body["to_timestamp"])
    skip, take = int(body["skip"]), min(int(body["take"]), MAX_TAKE)
    clause = " AND ".join(where)
    total = store._count(f"SELECT COUNT(*) FROM system_events WHERE {clause}", params)
    rows = store._all(
        f"SELECT * FROM system_events WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, take, skip],
    )
    return {
        "events": [_event(store, row) for row in rows],
        "total": total,
        "skip": skip,
        "take": take,
    }


def _event(store: Store, row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "timestamp": row["ts"],
        "contextId": row["context_id"],
        "context": row["context"],
        "event": row["event"],
        "orgId": store.org_id,
        "userId": row["user_id"],
        "userName": row["user_name"],
        "userEmail": row["user_email"],
        "workspaceId": row["workspace_id"],
        "jsonData": row["json_data"],
        "showUnread": False,
    }
