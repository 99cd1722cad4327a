"""Refusals of the emulated backend, already shaped as the real API shapes them.

The store and the routes raise `ApiProblem`; one Flask error handler turns it into a JSON
response with the status, body and headers given here. The body shapes follow
flashback-api.md section 1 ("Failure body"):

- most endpoints: ``{"success": false, "message": "..."}``;
- quota and auth: ``{"success": false, "error_code": "...", "message": "..."}``;
- repository calls: ``{"success": false, "error_code": <RepoErrorCodes>, "error_message": "..."}``.
"""

from __future__ import annotations

from typing import Any


class ApiProblem(Exception):
    """A refusal with the HTTP status, JSON body and extra headers the client receives."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(f"HTTP {status}: {body}")


def bad_request(message: str) -> ApiProblem:
    return ApiProblem(400, {"success": False, "message": message})


def forbidden(message: str) -> ApiProblem:
    return ApiProblem(403, {"success": False, "message": message})


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, {"success": False, "message": f"{what} not found"})


def unauthorized(message: str = "Missing or invalid bearer token") -> ApiProblem:
    return ApiProblem(401, {"success": False, "error_code": "NO_AUTH_USER", "message": message})


def repo_problem(code: str, message: str, status: int = 400) -> ApiProblem:
    """A `RepoErrorCodes` refusal (repository create, update and delete)."""
    return ApiProblem(status, {"success": False, "error_code": code, "error_message": message})


def quota_exceeded(kind: str, limit: int) -> ApiProblem:
    """The org quota for `kind` is used up; status and body depend on the kind.

    Buckets answer 429 with ``bucketId: null`` (documented); repositories answer 403 with the
    repository error shape; every other kind answers 403 with ``error_code`` and ``message``.
    """
    message = f"Quota exceeded: the organization may have at most {limit} {kind}"
    if kind == "buckets":
        body = {"success": False, "bucketId": None, "error_code": "QUOTA_EXCEEDED"}
        return ApiProblem(429, {**body, "message": message})
    if kind == "repos":
        return repo_problem("QUOTA_EXCEEDED", message, status=403)
    return ApiProblem(403, {"success": False, "error_code": "QUOTA_EXCEEDED", "message": message})
