"""The Bridge Node pattern, node telemetry and the latency-aware choice, on fixed rows."""

from __future__ import annotations

from typing import Any

import pytest

from fbplan.errors import ApiError
from fbplan.smoke.endpoints import (
    Node,
    bridge_url,
    candidates_for,
    choose_endpoint,
    choose_gateway,
    fetch_gateways,
    fetch_telemetry,
    latency,
    node_telemetry,
    nodes_from_telemetry,
    openai_base_url,
    pattern_candidates,
    serves_api,
)

FAST, SLOW = "https://s3-eu-central-1-aws.flashback.tech", "https://s3-us-east-1-aws.flashback.tech"


def node(url: str, latency: float | None, status: str = "ONLINE") -> Node:
    return Node(url, latency, status)


def test_bridge_url_follows_the_pattern() -> None:
    assert bridge_url("gcs", "eu-central-1", "gcp") == "https://gcs-eu-central-1-gcp.flashback.tech"


@pytest.mark.parametrize(
    ("storage_type", "api"), [("S3", "s3"), ("GCS", "gcs"), ("BLOB", "blob"), ("AZURE", "blob")]
)
def test_pattern_candidates_take_the_api_from_the_storage_type(storage_type: str, api: str) -> None:
    urls = pattern_candidates(storage_type, [("us-east-1", "aws"), ("us-east-1", "aws")])
    assert urls == [f"https://{api}-us-east-1-aws.flashback.tech"]


def test_pattern_candidates_cover_every_bucket_region_and_default_to_us_east_1() -> None:
    urls = pattern_candidates("S3", [("us-east-1", "aws"), ("eu-central-1", "gcp")])
    assert urls == [SLOW, "https://s3-eu-central-1-gcp.flashback.tech"]
    assert pattern_candidates("S3", []) == [SLOW]


def test_serves_api_rejects_pattern_nodes_of_another_api_only() -> None:
    assert serves_api(SLOW, "s3")
    assert not serves_api("https://gcs-us-east-1-gcp.flashback.tech", "s3")
    assert serves_api("http://127.0.0.1:5123", "s3")


def test_telemetry_joins_stats_rows_to_node_urls_with_both_spellings() -> None:
    node_rows = [
        {"id": "n1", "url": SLOW, "region": "us-east-1", "status": "ONLINE", "latencyMs": 90},
        {"ip": "10.0.0.2", "url": FAST, "status": "ONLINE", "latency_ms": 70},
        {"url": "https://s3-ap-south-1-aws.flashback.tech", "status": "OFFLINE", "latencyMs": 1},
    ]
    stat_rows = [
        {"nodeId": "n1", "unitId": "b1", "nodeStatus": "ONLINE", "latency_ms": 40},
        {"nodeId": "n1", "bucketId": "b2", "nodeStatus": "ONLINE", "latency_ms": 60},
        {"nodeId": "10.0.0.2", "bucketId": "b1", "nodeStatus": "ONLINE", "latencyMs": 12},
    ]
    nodes = {n.url: n for n in nodes_from_telemetry(node_rows, stat_rows)}
    assert nodes[SLOW].latency_ms == 50  # the mean of its stats rows
    assert nodes[FAST].latency_ms == 12
    assert not nodes["https://s3-ap-south-1-aws.flashback.tech"].usable
    summaries = {t.node_id: t for t in node_telemetry(node_rows, stat_rows)}
    assert summaries["10.0.0.2"].url == FAST and summaries["10.0.0.2"].bucket_ids == ("b1",)
    assert summaries["n1"].bucket_ids == ("b1", "b2") and summaries["n1"].latency_ms == 50


def test_latency_reads_both_spellings_and_ignores_what_is_not_a_number() -> None:
    rows = [{"latency_ms": "12.5"}, {"latencyMs": 7}, {"latency_ms": "fast"}, {}]
    assert [latency(r) for r in rows] == [12.5, 7.0, None, None]


def test_node_telemetry_keeps_listed_nodes_and_nodes_only_stats_name() -> None:
    node_rows = [{"id": "n1", "url": SLOW, "status": "ACTIVE", "latencyMs": 30, "region": "r"}]
    stat_rows = [
        {"nodeId": "n2", "bucketId": "b1", "nodeStatus": "ONLINE", "latency_ms": 8},
        {"nodeId": FAST, "bucketId": "b1", "nodeStatus": "ONLINE", "latency_ms": 9},
    ]
    summaries = node_telemetry(node_rows, stat_rows)
    assert [(t.node_id, t.url, t.status, t.latency_ms) for t in summaries] == [
        ("n1", SLOW, "ONLINE", 30.0),
        ("n2", None, "ONLINE", 8.0),
        (FAST, FAST, "ONLINE", 9.0),
    ]
    assert [n.url for n in nodes_from_telemetry(node_rows, stat_rows)] == [SLOW, FAST]


class RecordingApi:
    def __init__(self, failing: str = "") -> None:
        self.paths: list[str] = []
        self.failing = failing

    def get(self, path: str, *, params: Any = None) -> Any:
        self.paths.append(path)
        if path == self.failing:
            raise ApiError("GET", path, 500, "INTERNAL", "boom")
        return {"data": [{"id": "n1", "url": SLOW, "nodeId": "n1"}, "not a row"]}


def test_fetch_telemetry_asks_for_node_stats_only_for_some_buckets() -> None:
    api = RecordingApi()
    assert fetch_telemetry(api, []).stat_rows == [] and api.paths == ["/node"]
    assert len(fetch_telemetry(api, ["b1"]).stat_rows) == 1
    assert api.paths == ["/node", "/node", "/stats/nodes/minute"]


def test_fetch_telemetry_notes_a_list_the_backend_cannot_give() -> None:
    telemetry = fetch_telemetry(RecordingApi(failing="/node"), ["b1"])
    assert telemetry.node_rows == [] and len(telemetry.stat_rows) == 1
    assert telemetry.note == (
        "no data from /node: GET /node failed with HTTP 500 (INTERNAL: boom)."
    )


def test_telemetry_takes_the_latest_status_of_a_node() -> None:
    node_rows = [{"id": "n1", "url": SLOW, "status": "ONLINE"}]
    stat_rows = [
        {"nodeId": "n1", "nodeStatus": "ONLINE", "lastUpdated": "2024-01-01T00:00:00Z"},
        {"nodeId": "n1", "nodeStatus": "DISCONNECTED", "lastUpdated": "2024-01-01T00:01:00Z"},
    ]
    [only] = nodes_from_telemetry(node_rows, stat_rows)
    assert only.status == "DISCONNECTED" and not only.usable


def test_a_fresh_choice_takes_the_lowest_latency_and_says_why() -> None:
    choice = choose_endpoint([node(SLOW, 40), node(FAST, 12)])
    assert choice.url == FAST
    assert choice.reason == f"chose {FAST} (12 ms) over {SLOW} (40 ms)"
    assert choice.ranked == (FAST, SLOW)


def test_nodes_that_are_not_online_are_skipped() -> None:
    choice = choose_endpoint([node(FAST, 5, "OFFLINE"), node(SLOW, 40)])
    assert choice.url == SLOW and choice.ranked == (SLOW,)


def test_no_usable_node_means_no_choice() -> None:
    choice = choose_endpoint([node(FAST, 5, "DISCONNECTED")])
    assert choice.url is None and "no Bridge Node is online" in choice.reason


@pytest.mark.parametrize("other", [33.0, 32.0])
def test_the_current_endpoint_stays_unless_another_is_more_than_20_percent_faster(
    other: float,
) -> None:
    choice = choose_endpoint([node(SLOW, 40), node(FAST, other)], SLOW)
    assert choice.url == SLOW
    assert choice.reason == (
        f"kept {SLOW} (40 ms) from the previous choice: {FAST} ({other:.0f} ms) is not 20% faster"
    )
    assert choice.fallbacks == (FAST,)


def test_the_current_endpoint_is_left_for_a_node_more_than_20_percent_faster() -> None:
    choice = choose_endpoint([node(SLOW, 40), node(FAST, 31.9)], SLOW + "/")
    assert choice.url == FAST
    assert choice.reason == (
        f"chose {FAST} (32 ms): more than 20% faster than {SLOW} (40 ms, from the previous choice)"
    )
    assert choice.fallbacks == (SLOW,)


def test_an_offline_current_endpoint_is_left() -> None:
    choice = choose_endpoint([node(SLOW, 10, "OFFLINE"), node(FAST, 40)], SLOW)
    assert choice.url == FAST and "OFFLINE" in choice.reason


def test_a_current_endpoint_without_telemetry_is_kept() -> None:
    choice = choose_endpoint([node(FAST, 5)], "http://private-node.example")
    assert choice.url == "http://private-node.example"
    assert "no latency data" in choice.reason and choice.fallbacks == (FAST,)


def test_candidates_are_the_advertised_nodes_else_the_pattern() -> None:
    advertised = [node("http://127.0.0.1:5001", 3), node("https://gcs-x-gcp.flashback.tech", 1)]
    assert [n.url for n in candidates_for("s3", [SLOW], advertised)] == ["http://127.0.0.1:5001"]
    fallback = candidates_for("s3", [SLOW], [])
    assert [(n.url, n.latency_ms, n.usable) for n in fallback] == [(SLOW, None, True)]
    choice = choose_endpoint(fallback)
    assert choice.url == SLOW and "no latency data" in choice.reason


# -- the AI gateway -------------------------------------------------------------------------


class GatewayApi:
    def __init__(self, rows: list[Any], error: bool = False) -> None:
        self.rows, self.error = rows, error
        self.asked: list[tuple[str, Any]] = []

    def get(self, path: str, *, params: Any = None) -> Any:
        self.asked.append((path, params))
        if self.error:
            raise ApiError("GET", path, 500, "INTERNAL", "boom")
        return {"data": self.rows}


def test_openai_base_url_ends_in_v1_once() -> None:
    assert openai_base_url("http://127.0.0.1:8788") == "http://127.0.0.1:8788/v1"
    assert openai_base_url("https://AI.example/v1/") == "https://ai.example/v1"


def test_fetch_gateways_reads_the_ai_nodes_only() -> None:
    api = GatewayApi(
        [
            {"url": "http://127.0.0.1:8788", "status": "ONLINE", "latencyMs": 3, "nodeServices": 2},
            {"url": "http://127.0.0.1:8789", "status": "ONLINE", "nodeServices": 1},  # storage
            {"url": "https://ai.example/v1", "status": "active", "nodeServices": 6},
            {"status": "ONLINE", "nodeServices": 2},  # no URL
        ]
    )
    nodes, notes = fetch_gateways(api)
    assert api.asked == [("/node", {"nodeServices": 2})] and notes == ()
    assert nodes == [
        Node("http://127.0.0.1:8788/v1", 3.0, "ONLINE"),
        Node("https://ai.example/v1", None, "ONLINE"),
    ]


def test_fetch_gateways_notes_a_list_the_backend_cannot_give() -> None:
    nodes, notes = fetch_gateways(GatewayApi([], error=True))
    assert nodes == [] and notes[0].startswith("no data from /node: ")


def test_choose_gateway_takes_the_online_one_with_the_lowest_latency() -> None:
    nodes = [node("http://a/v1", 40), node("http://b/v1", 5, "OFFLINE"), node("http://c/v1", 10)]
    choice = choose_gateway(nodes)
    assert (choice.url, choice.reason) == (
        "http://c/v1",
        "chose http://c/v1 (10 ms) over http://a/v1 (40 ms)",
    )


def test_choose_gateway_keeps_to_advertised_gateways_even_when_none_is_online() -> None:
    choice = choose_gateway([node("http://b/v1", 5, "OFFLINE")])
    assert (
        choice.url == "http://b/v1" and "it is OFFLINE, and no gateway is online" in choice.reason
    )
    assert choose_gateway([]).url is None
