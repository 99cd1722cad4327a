"""The client reads answers through the contract: a wrong shape is one ApiError sentence.

A real backend that answers a list where an object belongs, leaves out an id, or sends a
string where a list belongs must never crash fbplan deep inside a kind ("internal error
(AttributeError ...)"): the client refuses the answer at once, naming method, path and field.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner

from fbplan.backend import BackendClient
from fbplan.cli.main import cli
from fbplan.errors import ApiError

BASE = "https://backend.test"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.shape-test-token.signature"
WORKSPACE = {"id": "ws-1", "name": "acme", "orgId": "org-1", "users": []}


def _client(router: respx.Router) -> BackendClient:
    return BackendClient(BASE, TOKEN, transport=httpx.MockTransport(router.handler))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"id": "ws-1"}], "response: must be an object, not an array"),
        ({"success": True, "workspaces": "acme"}, "response.workspaces: must be an array"),
        (
            {"success": True, "workspaces": [{"name": "acme", "orgId": "o", "users": []}]},
            "response.workspaces[0].id: is required",
        ),
        (
            {"success": True, "workspaces": [{**WORKSPACE, "id": 7}]},
            "response.workspaces[0].id: must be a string, not a number",
        ),
        ({"success": True}, "response.workspaces: is required"),
    ],
)
def test_wrong_shapes_are_one_sentence_naming_method_path_and_field(body: Any, field: str) -> None:
    router = respx.Router(base_url=BASE)
    router.get("/workspace").respond(200, json=body)
    with _client(router) as client, pytest.raises(ApiError) as caught:
        client.get("/workspace")
    message = str(caught.value)
    assert message.startswith("GET /workspace failed with HTTP 200 (the answer does not have")
    assert field in message
    assert "\n" not in message
    assert caught.value.ambiguous is False


def test_a_readable_answer_passes_and_unknown_or_null_optional_fields_are_tolerated() -> None:
    router = respx.Router(base_url=BASE)
    extra = {**WORKSPACE, "deletedAt": None, "futureField": {"x": 1}}
    router.get("/workspace").respond(200, json={"success": True, "workspaces": [extra]})
    with _client(router) as client:
        assert client.get("/workspace")["workspaces"][0]["id"] == "ws-1"


def test_the_documented_alternative_form_is_read() -> None:
    """`timestamp` is a number in the official client and an ISO string in the docs."""
    row = {
        "timestamp": "2026-11-29T10:00:00.000Z",
        "repoId": "r",
        "unitId": "b",
        "upl_bytes": "1",
        "dwl_bytes": "2",
        "size_change": "3",
        "latency_ms": 4.5,
        "host": "s3-us-east-1-aws.flashback.tech",
    }
    router = respx.Router(base_url=BASE)
    router.get("/stats/minute").respond(200, json={"success": True, "data": [row]})
    with _client(router) as client:
        assert client.get("/stats/minute")["data"][0]["timestamp"] == row["timestamp"]


def test_an_unreadable_create_answer_is_ambiguous() -> None:
    """The create may have happened: the caller must look it up by name before a retry."""
    router = respx.Router(base_url=BASE)
    router.post("/workspace").respond(201, json={"success": True, "workspace": ["ws-1"]})
    with _client(router) as client, pytest.raises(ApiError) as caught:
        client.post("/workspace", json={"name": "acme"})
    assert caught.value.ambiguous is True
    assert "response.workspace: must be an object, not an array" in str(caught.value)


@respx.mock(base_url=BASE, assert_all_called=False)
def test_plan_exits_1_with_the_sentence_not_an_internal_error(
    respx_mock: respx.MockRouter, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = {"id": "u", "name": "n", "lastName": "l", "email": "e@x", "orgId": "org-1"}
    respx_mock.get("/user/profile").respond(200, json={"success": True, "data": profile})
    respx_mock.get("/workspace").respond(200, json=[WORKSPACE])
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nworkspace: acme\n")
    monkeypatch.setenv("FB_BACKEND_URL", BASE)
    monkeypatch.setenv("FB_JWT", TOKEN)
    result = CliRunner().invoke(cli, ["plan", str(spec)])
    assert result.exit_code == 1, result.output
    assert "GET /workspace failed with HTTP 200" in result.output
    assert "response: must be an object, not an array" in result.output
    assert "internal error" not in result.output.lower()
    assert "Traceback" not in result.output


def test_valid_answers_are_read_without_loading_jsonschema_or_httpxs_command_line() -> None:
    """jsonschema (a tenth of a second to import) is needed only to describe a wrong
    answer, fastjsonschema never (its checks are generated code), and httpx's own
    command-line tool (rich, pygments) never: a run whose answers are all valid loads none
    of them, before or after its first request."""
    code = f"""
import json, sys
from fbplan.backend import BackendClient
import httpx
body = {{"success": True, "workspaces": [{WORKSPACE!r}]}}
answer = lambda request: httpx.Response(200, json=body)
client = BackendClient({BASE!r}, "t", transport=httpx.MockTransport(answer))
assert client.get("/workspace")["workspaces"][0]["id"] == "ws-1"
print(json.dumps(sorted(m for m, module in sys.modules.items() if module is not None)))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(done.stdout.splitlines()[-1])
    assert "fbplan.contract" in modules and "httpx" in modules
    for heavy in ("jsonschema", "fastjsonschema", "httpx._main", "rich", "pygments"):
        assert not any(m == heavy or m.startswith(heavy + ".") for m in modules), heavy
