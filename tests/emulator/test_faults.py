"""Fault injection: every action, matching, counts, and reproducibility from a seed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fbplan.emulator.faults import ConnectionDropped, FaultInjector, FaultRule, parse_faults


def hello_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def client_for(app: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://faulty")


def workspaces(api) -> list[str]:
    return [w["name"] for w in api.store.list_workspaces()]


# -- rules ------------------------------------------------------------------------------------


def test_parse_json_and_yaml():
    text = json.dumps({"seed": 3, "rules": [{"action": "error", "path": "/repo*", "status": 503}]})
    rules, seed = parse_faults(text)
    assert seed == 3 and rules == [FaultRule(action="error", path="/repo*", status=503)]
    yaml_text = """
    - action: throttle
      method: POST
      count: 2
      retryAfter: 5
    - {action: latency, latencyMs: 20, jitterMs: 5}
    """
    rules, seed = parse_faults(yaml_text)
    assert seed is None
    assert rules[0].retry_after == 5 and rules[0].count == 2
    assert rules[1].latency_ms == 20 and rules[1].jitter_ms == 5


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "explode"},
        {"path": "/x"},
        {"action": "error", "probability": 2},
        {"action": "error", "status": 42},
        {"action": "error", "colour": "red"},
        {"action": "latency", "latency_ms": -1},
    ],
)
def test_invalid_rules_are_refused(bad):
    with pytest.raises(ValueError):
        FaultRule.from_dict(bad)


# -- actions on any WSGI app ------------------------------------------------------------------


def test_error_with_count_then_normal():
    injector = FaultInjector([{"action": "error", "count": 2, "status": 503}])
    with client_for(injector.wrap(hello_app, service="bridge")) as http:
        statuses = [http.get("/x").status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]


def test_throttle_burst_has_retry_after():
    injector = FaultInjector([{"action": "throttle", "count": 3, "retry_after": 7}])
    with client_for(injector.wrap(hello_app)) as http:
        answers = [http.get("/x") for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].headers["content-type"] == "application/json"
    assert answers[0].json()["success"] is False


def test_latency_with_jitter_is_reproducible():
    def delays(seed: int) -> list[float]:
        slept: list[float] = []
        rule = {"action": "latency", "latency_ms": 100, "jitter_ms": 50}
        injector = FaultInjector([rule], seed=seed, sleep=slept.append)
        with client_for(injector.wrap(hello_app)) as http:
            for _ in range(5):
                assert http.get("/x").status_code == 200
        return slept

    first = delays(11)
    assert first == delays(11)
    assert first != delays(12)
    assert all(0.05 <= d <= 0.15 for d in first)


def test_probability_is_reproducible_from_the_seed():
    def outcome(seed: int) -> list[int]:
        injector = FaultInjector([{"action": "error", "probability": 0.5}], seed=seed)
        with client_for(injector.wrap(hello_app)) as http:
            return [http.get("/x").status_code for _ in range(40)]

    assert outcome(1) == outcome(1)
    assert outcome(1) != outcome(2)
    assert 5 < outcome(1).count(500) < 35


def test_set_rules_reseeds_and_resets_counters():
    injector = FaultInjector(seed=5)
    rule = {"action": "error", "probability": 0.3}
    injector.set_rules([rule])
    first = [injector.decide("backend", "GET", "/x").rule is not None for _ in range(30)]
    injector.set_rules([rule])
    assert [injector.decide("backend", "GET", "/x").rule is not None for _ in range(30)] == first
    assert injector.snapshot()["rules"][0]["seen"] == 30


def test_matching_by_method_path_and_service_and_skip():
    rules = [
        {"action": "error", "method": "POST", "path": "/repo*", "service": "backend", "skip": 1},
    ]
    injector = FaultInjector(rules)
    decide = injector.decide
    assert decide("backend", "GET", "/repo").rule is None
    assert decide("bridge", "POST", "/repo").rule is None
    assert decide("backend", "POST", "/repo/abc/apikey").rule is None  # skipped (first match)
    assert decide("backend", "post", "/repo/abc/apikey").rule is not None
    assert decide("backend", "POST", "/bucket").rule is None


def test_drop_in_process_raises_a_transport_error():
    injector = FaultInjector([{"action": "drop", "count": 1}])
    with client_for(injector.wrap(hello_app)) as http:
        with pytest.raises(httpx.TransportError) as caught:
            http.get("/x")
        assert isinstance(caught.value, ConnectionDropped)
        assert isinstance(caught.value, ConnectionError)
        assert http.get("/x").status_code == 200


# -- on the backend: commit semantics --------------------------------------------------------


def test_drop_before_processing_stores_nothing(api, faults):
    faults.set_rules([{"action": "drop", "method": "POST", "path": "/workspace", "count": 1}])
    with pytest.raises(ConnectionDropped):
        api.http.post("/workspace", json={"name": "lost"})
    assert workspaces(api) == []


def test_commit_then_fail_stores_and_answers_500(api, faults):
    faults.set_rules([{"action": "commit_then_fail", "path": "/workspace", "count": 1}])
    response = api.http.post("/workspace", json={"name": "stored"})
    assert response.status_code == 500 and response.json()["success"] is False
    assert workspaces(api) == ["stored"]


def test_commit_then_drop_stores_and_drops(api, faults):
    faults.set_rules([{"action": "commit_then_drop", "method": "POST", "count": 1}])
    with pytest.raises(ConnectionDropped):
        api.http.post("/workspace", json={"name": "stored"})
    assert workspaces(api) == ["stored"]


def test_commit_then_delay_holds_the_answer():
    slept: list[float] = []
    injector = FaultInjector(
        [{"action": "commit_then_delay", "delay_ms": 2500}], sleep=slept.append
    )
    with client_for(injector.wrap(hello_app)) as http:
        assert http.get("/x").text == "hello"
    assert slept == [2.5]


def test_admin_paths_are_never_faulted(api, faults):
    faults.set_rules([{"action": "error"}])
    api.fail(api.http.get("/workspace"), 500)
    assert api.ok(api.http.delete("/_emulator/faults"))["rules"] == []
    api.ok(api.http.get("/workspace"))
