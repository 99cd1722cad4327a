"""The emulator holds every request, and in tests every answer, to the API contract.

A request whose query or body breaks `fbplan.contract` (an unknown field, a missing
required field, a null where null is not allowed, a wrong type or enum value) is refused with
400 ``{success: false, message}`` naming the field, before any route runs: the emulator is at
least as strict as the real API, so a payload mistake in fbplan fails a test here instead of
failing against the real backend.

With ``FBPLAN_EMULATOR_CHECK_RESPONSES=1`` (the test suite sets it) every success answer is
checked too; one that breaks the contract becomes a 500 naming the field, so the emulator and
the contract cannot drift apart unnoticed. A route with no contract entry is such an error.
"""

from __future__ import annotations

import json
import logging
import os

from flask import Flask, Response, request

from fbplan import contract
from fbplan.emulator.problems import bad_request

log = logging.getLogger(__name__)

CHECK_RESPONSES_ENV = "FBPLAN_EMULATOR_CHECK_RESPONSES"
UNCHECKED_PREFIXES = ("/_emulator/",)


def install(app: Flask) -> None:
    """Check requests on `app` always, and answers when the environment asks for it."""
    app.before_request(_check_request)
    if os.environ.get(CHECK_RESPONSES_ENV) == "1":
        app.after_request(_check_response)


def _unchecked() -> bool:
    """No route matched (Flask answers 404/405 itself), or the emulator's own admin API."""
    return request.routing_exception is not None or request.path.startswith(UNCHECKED_PREFIXES)


def _endpoint() -> contract.Endpoint | None:
    return contract.load().find(request.method, request.path)


def _check_request() -> None:
    endpoint = None if _unchecked() else _endpoint()
    if endpoint is None:
        return
    problems = endpoint.request_problems(request.args.to_dict(flat=True), _body())
    repeated = [name for name in request.args if len(request.args.getlist(name)) > 1]
    if repeated:
        problems.append(
            contract.Problem(f"query.{repeated[0]}", "is repeated; send one comma-separated value")
        )
    if problems:
        raise bad_request("Invalid request: " + "; ".join(map(str, problems)))


def _body() -> object:
    raw = request.get_data(cache=True)
    if not raw:
        return contract.NO_BODY
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("Invalid request: the body is not valid JSON") from None


def _check_response(response: Response) -> Response:
    if _unchecked() or not 200 <= response.status_code < 300:
        return response
    endpoint = _endpoint()
    if endpoint is None:
        return _broken(f"no contract entry for {request.method} {request.path}")
    try:
        body = json.loads(response.get_data()) if response.get_data() else None
    except ValueError:
        return _broken("the answer is not JSON")
    problems = endpoint.response_problems(response.status_code, body)
    if problems:
        return _broken("; ".join(map(str, problems)))
    return response


def _broken(reason: str) -> Response:
    message = f"Emulator answer to {request.method} {request.path} breaks the contract: {reason}"
    log.error(message)
    body = {"success": False, "message": message}
    return Response(json.dumps(body), status=500, mimetype="application/json")
