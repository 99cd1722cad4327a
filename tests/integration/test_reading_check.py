"""The client's generated reading check agrees with jsonschema on the emulator's real answers,
as sent and broken at random: a missing field, a value of another type, a field no schema
names. Whatever jsonschema refuses, the fast check refuses too (and the client then reports
jsonschema's sentence, tests/unit/backend/test_client_shape.py)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fbplan import contract
from fbplan.backend.live import read_live

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 300),
    st.floats(allow_nan=False),
    st.sampled_from(["", "S3", "OPENAI", "x", "2026-11-29T10:00:00.000Z"]),
    st.just([]),
    st.just({}),
    st.just([{}]),
)


class Recorder:
    """The backend client, keeping every answer the live read gets."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.answers: list[tuple[str, Any]] = []

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        body = self.api.get(path, params=params)
        self.answers.append((path, body))
        return body


@pytest.fixture
def answers(harness: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every answer a refresh of the full example reads, and the quota and credits."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREADINGCHECK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "reading-check-aws-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-reading-check-openai")
    folder = harness.root / "examples"
    folder.mkdir()
    spec = shutil.copy(EXAMPLES / "full.yaml", folder / "full.yaml")
    assert harness.apply(spec).ok
    recorder = Recorder(harness.api())
    read_live(recorder, "acme-prod")
    for path in ("/user/quota", "/credits/balance"):
        recorder.get(path)
    return recorder.answers


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node of a JSON document, the root first."""
    found = [at]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node if isinstance(node, list) else [])
    )
    for key, child in items:
        found += _paths(child, (*at, key))
    return found


def _mutated(body: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    body = copy.deepcopy(body)
    if not path:
        return value
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    elif how == "add" and isinstance(parent, dict):
        parent["notInTheContract"] = value
    else:
        parent[path[-1]] = value
    return body


def _verdicts(path: str, body: Any) -> tuple[bool, bool]:
    endpoint = contract.load().find("GET", path)
    assert endpoint is not None
    return endpoint._fast_valid("reading", body), endpoint._reading.is_valid(body)


def test_real_answers_are_valid_for_both(answers: list[tuple[str, Any]]) -> None:
    assert {"/workspace", "/repo", "/bucket", "/policy", "/user/quota"} <= {p for p, _ in answers}
    for path, body in answers:
        assert _verdicts(path, body) == (True, True), path


@SETTINGS
@given(data=st.data())
def test_broken_answers_get_jsonschemas_verdict(
    answers: list[tuple[str, Any]], data: st.DataObject
) -> None:
    path, body = data.draw(st.sampled_from(answers))
    where = data.draw(st.sampled_from(_paths(body)))
    how = data.draw(st.sampled_from(["replace", "drop", "add"]))
    broken = _mutated(body, where, how, data.draw(VALUES))
    fast, slow = _verdicts(path, broken)
    assert fast == slow, (path, where, how)
