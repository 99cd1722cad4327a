"""The emulated Flashback backend management API as a WSGI app.

`create_backend_app(store, token, faults)` builds a Flask app with every provisioning,
smoke-check and statistics endpoint of flashback-api.md, plus the emulator's own admin API
under ``/_emulator/`` (see `fbplan.emulator.admin`). Layers, outermost first:

    RequestRecorder   request log and counters (never bodies or headers)
    FaultInjector     latency, 5xx, 429 bursts, dropped connections, commit-then-fail
    Flask             bearer-token check, routes, JSON error handlers

Every management call needs ``Authorization: Bearer <token>`` (401
``{success: false, error_code: "NO_AUTH_USER", message}`` otherwise); ``GET /``,
``GET /health`` and ``GET /credits/rates`` are open. Every error answer is JSON with
``Content-Type: application/json``, including unknown paths (404) and methods (405). Routes
live in ``routes_*.py``; the rules they rely on live in the store.

Choices where flashback-api.md leaves a question open (section 18; details in the store
modules' docstrings):

- Status codes (q. 2, 18): repository error codes answer 400 with
  ``{success, error_code, error_message}``, except ``NOT_FOUND`` 404 and ``QUOTA_EXCEEDED``
  403; bucket quota 429 ``{success: false, bucketId: null, error_code, message}``; other quotas
  403 ``{success: false, error_code: "QUOTA_EXCEEDED", message}``; deleting a bucket or AI LLM
  in use 403, a provider key in use 400, a workspace with buckets/repos 400; a referenced
  workspace that does not exist 404; any other bad reference in a body 400 (in a repository
  body a missing bucket or AI LLM is the repository error ``NOT_FOUND``, 404).
  ``/repo/validate`` and ``/repo/{id}/validate`` report a rule failure inside a 200
  (``success: false``), like the other dry runs.
- Names (q. 1, 16): case-sensitive; unique among live objects only for buckets (org; also the
  real ``bucket`` name), repositories (org, ``NAME_ALREADY_USED``) and AI LLM configs
  (workspace). Workspaces, provider keys, repo keys, AI keys and policies may repeat names.
  Soft-deleted objects never appear in lists and free their names.
- Request shapes: every request is held to the API contract (`fbplan.contract`, checked by
  `fbplan.emulator.contract_check` before any route runs; a 400 names the field). Where the
  client and the docs disagree the contract records the body that satisfies both: a bucket
  needs ``region`` and credentials (``key`` + ``secret``, or ``apiKeyUuid``), an AI LLM
  ``endpoint`` + ``secret`` or ``apiKeyUuid``, a repository ``repoBuckets`` (create and
  update), a repo storage key ``repoId`` in its body (which must match the path). Enums take
  the client's spelling only (``BLOB``, ``NORMAL|MIRROR``). Optional filters ``walletAddress``
  (``GET /bucket``, ``GET /repo``) match the stored wallet address exactly.
- Answers: absent optional fields are left out, never null; only the fields of the client's
  DTO (plus documented ones such as ``lastStatusAt``), in the client's types (numeric stats
  timestamps and node days, numeric quota usage).
- Quotas and credits (section 15): quotas are organization-wide and count live objects (a
  soft delete frees its place); a capability without a limit has no ``quotaUsage`` entry;
  capability codes are ``<OBJECTS>_COUNT`` (undocumented, see the contract's choices). No
  create is refused for a zero or negative credit balance (none is documented), and without
  a subscription the quotas set still apply (`fbplan.emulator.store_credits`).
- Updates (q. 6): ``PUT /bucket/{id}`` takes the full body, and an optional field left out
  keeps its value; ``PUT /repo/{id}`` replaces name, storageType, mode and the bucket
  attachments, keeps the AI LLM attachments when ``repoAiLlms`` is missing and detaches all
  on an empty list.
- Immutable (q. 7): ``workspaceId`` of keys, buckets and repos; AI key ``aiType``; policy
  scope (400 when a different value is sent). Bucket ``storageType``/``bucket`` and repo
  ``storageType``/``mode`` may change.
- Deletes (section 17 row 24): provider keys and AI LLM configs are permanent; buckets,
  repositories, workspaces, policies and repo AI keys are soft. Repo storage keys, which the
  row does not name, are permanent.
- Modes (q. 8): see `fbplan.emulator.store_repos`; ``NORMAL_UNIT_FOLDER_CANNOT_DELETE`` is not
  enforced (detaching is allowed).
- Policy lists (q. 9): only the requested level, never inherited policies; a repo-level policy
  needs ``workspaceId`` too.
- Gateway token (q. 10): the repo AI key's create-time ``secret``.
- Statistics rows carry ``unitId``, the key of the row type the client's methods return
  (disagreement 7); node daily dates are ``ddmmyyyy`` numbers in the query and the answer
  (q. 19).
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from fbplan.emulator import (
    contract_check,
    routes_ai,
    routes_members,
    routes_repos,
    routes_stats,
    routes_storage,
    system_events,
)
from fbplan.emulator.faults import FaultInjector
from fbplan.emulator.payload import as_str, json_body, ok
from fbplan.emulator.problems import ApiProblem, forbidden, unauthorized
from fbplan.emulator.recorder import TEMPLATE_KEY, RequestRecorder
from fbplan.emulator.store import Store

log = logging.getLogger(__name__)

OPEN_ROUTES = {("GET", "/"), ("GET", "/health"), ("GET", "/credits/rates")}

#: The largest request body the backend reads: far above any request of the contract (a repo
#: with its attachments is a few kB); a larger one is refused with 413 before it is read.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


def create_backend_app(
    store: Store,
    token: str,
    faults: FaultInjector | None = None,
    recorder: RequestRecorder | None = None,
) -> Flask:
    """The backend WSGI app (a Flask app whose ``wsgi_app`` carries the recorder and faults).

    `faults` and `recorder` may be shared with the Bridge Node and gateway apps so that the
    admin API controls and reports all of them.
    """
    from fbplan.emulator import admin

    injector = faults if faults is not None else FaultInjector()
    requests_log = recorder if recorder is not None else RequestRecorder()
    app = Flask("fbplan.emulator")
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    app.before_request(_remember_template)  # first: it runs whatever the others decide
    _install_auth(app, token, store)
    _install_error_handlers(app)
    contract_check.install(app)
    _register_identity(app, store)
    system_events.register(app, store)
    for module in (routes_storage, routes_repos, routes_ai, routes_stats, routes_members):
        module.register(app, store)
    admin.register(app, store, injector, requests_log)
    app.extensions["fbplan_emulator"] = {
        "store": store,
        "faults": injector,
        "recorder": requests_log,
    }
    inner = injector.wrap(app.wsgi_app, service="backend")
    app.wsgi_app = requests_log.wrap(inner, service="backend", template_for=_template_finder(app))  # type: ignore[method-assign,assignment]
    return app


def _install_auth(app: Flask, token: str, store: Store) -> None:
    """The emulator's token (its built-in user), or one of an emulated user (see
    `fbplan.emulator.system_events`), whose writes are recorded under that user."""
    expected = f"Bearer {token}".encode()

    @app.before_request
    def check_token() -> None:
        if (request.method, request.path) in OPEN_ROUTES:
            return
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, expected):
            return
        scheme, _, value = given.decode(errors="replace").partition(" ")
        user = system_events.user_for_token(store, value) if scheme == "Bearer" else None
        if user is None:
            raise unauthorized()
        g.emulated_user = user


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def api_problem(problem: ApiProblem) -> Response:
        response = jsonify(problem.body)
        response.status_code = problem.status
        response.headers.update(problem.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        message = f"{error.name}: {request.method} {request.path}"
        response = jsonify({"success": False, "message": message})
        response.status_code = error.code or 500
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("emulator error on %s %s", request.method, request.path)
        response = jsonify({"success": False, "message": "Internal server error"})
        response.status_code = 500
        return response


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _template_finder(app: Flask) -> Any:
    """``(method, path) -> "/repo/{repoId}/apikey"`` for the request counters, for requests
    that did not reach the routing (a fault answered them); the others leave theirs in the
    environ (`_remember_template`)."""

    def template_for(method: str, path: str) -> str:
        adapter = app.url_map.bind("emulator")
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            return path
        return _template(str(rule.rule))

    return template_for


def _remember_template() -> None:
    """The matched rule's template, for the request recorder: no second routing of the path."""
    if request.url_rule is not None:
        request.environ[TEMPLATE_KEY] = _template(request.url_rule.rule)


@functools.cache  # one entry per route
def _template(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + _camel(m.group(1)) + "}", rule)


def _register_identity(app: Flask, store: Store) -> None:
    """Online checks, profile, organization and workspaces (sections 1-3)."""

    @app.get("/")
    def online() -> Any:
        return ok(message="Flashback backend emulator is online")

    @app.get("/health")
    def health() -> Any:
        store.get_quotas()  # touches the database
        return ok(status="healthy", checks={"database": "ok"})

    @app.get("/user/profile")
    def profile() -> Any:
        return ok(data=store.profile())

    @app.get("/organization/<org_id>")
    def organization(org_id: str) -> Any:
        if org_id != store.org_id:
            raise forbidden("No access to this organization")
        return ok(data=store.organization())

    @app.get("/organization/<org_id>/nodes")
    def organization_nodes(org_id: str) -> Any:
        if org_id != store.org_id:
            raise forbidden("No access to this organization")
        return ok(data=[], total=0)

    @app.post("/workspace")
    def create_workspace() -> Any:
        return ok(201, workspace=store.create_workspace(json_body()["name"]))

    @app.get("/workspace")
    def list_workspaces() -> Any:
        return ok(workspaces=store.list_workspaces())

    @app.get("/workspace/<workspace_id>")
    def get_workspace(workspace_id: str) -> Any:
        return ok(workspace=store.get_workspace(workspace_id))

    @app.put("/workspace/<workspace_id>")
    def update_workspace(workspace_id: str) -> Any:
        name = as_str(json_body(), "name")
        return ok(workspace=store.update_workspace(workspace_id, name))

    @app.delete("/workspace/<workspace_id>")
    def delete_workspace(workspace_id: str) -> Any:
        store.delete_workspace(workspace_id)
        return ok()
