"""Bridge Node endpoints: the URL pattern, node telemetry, and the latency-aware choice.

Candidates are the Bridge Node URLs `https://<api>-<region>-<provider>.flashback.tech` for
the regions of the repo's buckets (`<api>` from the repo's storage type) and the storage
nodes the backend advertises (`GET /node?nodeServices=1`, which is how the emulator's local
bridges are found). Latency and status come from `GET /stats/nodes/minute` (joined to the
node list by node id, ip, host or URL) and from the node list itself; both spellings
(`latency_ms`, `latencyMs`) are read. Nodes that are not ONLINE are skipped. When the
backend advertises nodes, pattern URLs it does not advertise are dropped: the pattern is the
fallback for a backend without telemetry. `fbplan stats` reads the same telemetry with the
same functions (`fetch_telemetry`, `node_telemetry`).

The choice (for `endpoint: auto`; an explicit URL is used as it is) keeps the current
endpoint, a previous choice in the same run, unless another node is more than 20% faster,
and always says why.

The AI gateway is found the same way: the AI nodes the backend advertises (`GET
/node?nodeServices=2`, where the emulator registers its gateway), the ONLINE one with the
lowest latency (`choose_gateway`); the `openai-<region>-<provider>` pattern is only the
fallback for a backend that advertises none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any, Protocol
from urllib.parse import urlsplit

from fbplan.errors import BackendError
from fbplan.kinds.base import Api
from fbplan.secrets.values import redact

API_OF_STORAGE_TYPE = {"S3": "s3", "GCS": "gcs", "BLOB": "blob", "AZURE": "blob"}
PROVIDER_OF = {
    "AWS": "aws",
    "S3": "aws",
    "GCP": "gcp",
    "GOOGLE": "gcp",
    "GCS": "gcp",
    "AZURE": "azure",
    "BLOB": "azure",
}
DEFAULT_REGION, DEFAULT_PROVIDER = "us-east-1", "aws"
SWITCH_RATIO = 0.8  # another node must take less than 80% of the current one's latency
ONLINE, UNKNOWN = "ONLINE", "UNKNOWN"
SERVICE_STORAGE, SERVICE_AI = 1, 2  # `nodeServices` bits of `GET /node`
_PATTERN_HOST = re.compile(r"^(s3|gcs|blob)-(.+)-(aws|gcp|azure)\.flashback\.tech$")


def bridge_url(api: str, region: str, provider: str) -> str:
    """`https://<api>-<region>-<provider>.flashback.tech`."""
    return f"https://{api}-{region}-{provider}.flashback.tech"


def normalize_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.netloc or "").lower()
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{host}{path}"


@dataclass(frozen=True)
class LocalEndpoints:
    """The embedded emulator's own Bridge Nodes and AI gateway (`--local`): smoke checks go
    to these and nowhere else, so a spec written for the platform never leaves the machine."""

    bridge_urls: tuple[str, ...]
    gateway_url: str

    def own(self) -> set[str]:
        """Every URL of these endpoints, normalized for comparison."""
        return {normalize_url(url) for url in (*self.bridge_urls, self.gateway_url) if url}


class SmokeConnection(Protocol):
    """What smoke needs of a connection: the backend client, and the local endpoints when the
    backend is an embedded emulator (None otherwise)."""

    @property
    def api(self) -> Api: ...

    @property
    def local(self) -> LocalEndpoints | None: ...


def pattern_candidates(
    storage_type: str | None, placements: Iterable[tuple[str, str]]
) -> list[str]:
    """Pattern URLs for `(region, provider)` placements, in order, without duplicates."""
    api = API_OF_STORAGE_TYPE.get(str(storage_type or "S3").upper(), "s3")
    urls = [bridge_url(api, region, provider) for region, provider in placements]
    return list(dict.fromkeys(urls or [bridge_url(api, DEFAULT_REGION, DEFAULT_PROVIDER)]))


def serves_api(url: str, api: str) -> bool:
    """False only for a pattern URL of another `<api>` (a gcs- node for an S3 repo)."""
    match = _PATTERN_HOST.match(urlsplit(url).hostname or "")
    return match is None or match.group(1) == api


@dataclass(frozen=True)
class Node:
    url: str
    latency_ms: float | None
    status: str
    region: str | None = None

    @property
    def usable(self) -> bool:
        return self.status in (ONLINE, UNKNOWN)

    def describe(self) -> str:
        if self.latency_ms is None:
            return f"{self.url} (no latency data)"
        return f"{self.url} ({self.latency_ms:.0f} ms)"


def latency(row: Mapping[str, Any]) -> float | None:
    """A row's latency in ms, in either spelling (`latency_ms`, `latencyMs`), if it has one."""
    value = row.get("latency_ms", row.get("latencyMs"))
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _status(value: Any) -> str:
    text = str(value or "").strip().upper()
    return ONLINE if text in ("ONLINE", "ACTIVE") else (text or UNKNOWN)


def _join_keys(row: Mapping[str, Any]) -> set[str]:
    url = str(row.get("url") or "")
    keys = {str(row.get(k)) for k in ("id", "ip", "nodeId") if row.get(k)}
    if url:
        keys |= {url, normalize_url(url), urlsplit(url).netloc, urlsplit(url).hostname or ""}
    return keys - {""}


@dataclass(frozen=True)
class NodeTelemetry:
    """One Bridge Node as the backend reports it, from its node list row, its stats rows, or
    both: the mean latency of its stats rows (else the node list's), the status of its
    latest stats row (unless the node list says it is not ONLINE), and the buckets its
    stats rows are about."""

    node_id: str
    url: str | None
    latency_ms: float | None
    status: str
    last_updated: str | None
    bucket_ids: tuple[str, ...]
    region: str | None = None


def node_telemetry(
    node_rows: Sequence[Mapping[str, Any]], stat_rows: Sequence[Mapping[str, Any]]
) -> list[NodeTelemetry]:
    """Every node of the node list, joined to its stats rows by id, ip, host or URL; then
    every node that only stats rows name."""
    stats: dict[str, list[Mapping[str, Any]]] = {}
    for row in stat_rows:
        stats.setdefault(str(row.get("nodeId") or ""), []).append(row)
    nodes: list[NodeTelemetry] = []
    joined: set[str] = set()
    for row in node_rows:
        keys = _join_keys(row)
        mine = [node_id for node_id in stats if node_id in keys]
        joined |= set(mine)
        node_id = str(row.get("id") or (mine[0] if mine else "") or row.get("ip") or "")
        nodes.append(_summary(node_id, row, [r for n in mine for r in stats[n]]))
    for node_id, rows in stats.items():
        if node_id not in joined:
            url = node_id if node_id.startswith(("http://", "https://")) else None
            nodes.append(_summary(node_id, {"url": url}, rows))
    return nodes


def _summary(
    node_id: str, row: Mapping[str, Any], stats: Sequence[Mapping[str, Any]]
) -> NodeTelemetry:
    latencies = [v for v in (latency(r) for r in stats) if v is not None]
    mean = fmean(latencies) if latencies else latency(row)
    latest = max(stats, key=lambda r: str(r.get("lastUpdated") or ""), default=None)
    status = _status(latest.get("nodeStatus") if latest else row.get("status"))
    if latest and row.get("status") and _status(row.get("status")) != ONLINE:
        status = _status(row.get("status"))
    updated = (latest or {}).get("lastUpdated") or row.get("lastUpdated")
    buckets = tuple(dict.fromkeys(b for b in (_row_bucket(r) for r in stats) if b))
    url = str(row["url"]) if row.get("url") else None
    return NodeTelemetry(
        node_id or url or "?", url, mean, status, updated, buckets, row.get("region")
    )


def nodes_from_telemetry(
    node_rows: Sequence[Mapping[str, Any]], stat_rows: Sequence[Mapping[str, Any]]
) -> list[Node]:
    """The nodes with a URL (see `node_telemetry`), once each, as endpoint candidates."""
    nodes = (
        Node(normalize_url(t.url), t.latency_ms, t.status, t.region)
        for t in node_telemetry(node_rows, stat_rows)
        if t.url
    )
    return _dedupe(nodes)


def _dedupe(nodes: Iterable[Node]) -> list[Node]:
    seen: dict[str, Node] = {}
    for node in nodes:
        seen.setdefault(node.url, node)
    return list(seen.values())


def candidates_for(
    api: str, patterns: Sequence[str], advertised: Sequence[Node], extra: Sequence[str] = ()
) -> list[Node]:
    """The nodes a target may use: advertised nodes serving `api`, else the pattern URLs
    (then `extra`, e.g. the embedded emulator's bridges) as nodes without telemetry."""
    mine = [n for n in advertised if serves_api(n.url, api)]
    if mine:
        return mine
    urls = [normalize_url(u) for u in (*extra, *patterns)]
    return [Node(u, None, UNKNOWN) for u in dict.fromkeys(urls)]


def placements(spec_data: Mapping[str, Any], repo: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(region, provider) of each bucket a spec repo attaches, master first: the region of
    the bucket (else of its provider key), the provider of its provider key (else guessed
    from its storage type)."""
    buckets = spec_data.get("buckets") or {}
    provider_keys = spec_data.get("provider_keys") or {}
    attached = sorted(repo.get("buckets") or [], key=lambda b: not b.get("master"))
    found = []
    for item in attached:
        bucket = buckets.get(item.get("bucket")) or {}
        provider_key = provider_keys.get(bucket.get("provider_key")) or {}
        kind = str(provider_key.get("provider") or bucket.get("storage_type") or "").upper()
        region = bucket.get("region") or provider_key.get("region") or DEFAULT_REGION
        found.append((str(region), PROVIDER_OF.get(kind, DEFAULT_PROVIDER)))
    return found


@dataclass(frozen=True)
class Telemetry:
    """The rows of `GET /node?nodeServices=1` (storage nodes) and `GET /stats/nodes/minute`,
    read once."""

    node_rows: list[Mapping[str, Any]]
    stat_rows: list[Mapping[str, Any]]
    notes: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return "; ".join(self.notes)

    def nodes(self, bucket_ids: set[str]) -> list[Node]:
        """Advertised nodes, with the latency seen for these buckets (rows without a bucket
        count for every bucket)."""
        mine = [r for r in self.stat_rows if _row_bucket(r) in (*bucket_ids, None)]
        return nodes_from_telemetry(self.node_rows, mine)


def _row_bucket(row: Mapping[str, Any]) -> str | None:
    value = row.get("bucketId") or row.get("unitId")
    return str(value) if value else None


def fetch_telemetry(api: Any, bucket_ids: Sequence[str]) -> Telemetry:
    """The node list, and the node stats of `bucket_ids` (none are asked for without a
    bucket); a list the backend cannot give is empty, with a note."""
    notes: list[str] = []
    node_rows = fetch_rows(api, "/node", {"nodeServices": SERVICE_STORAGE}, notes=notes)
    stat_rows: list[Mapping[str, Any]] = []
    if bucket_ids:
        params = {"bucketId": list(bucket_ids)}
        stat_rows = fetch_rows(api, "/stats/nodes/minute", params, notes=notes)
    return Telemetry(node_rows, stat_rows, tuple(notes))


def fetch_rows(
    api: Any, path: str, params: Mapping[str, Any], *, notes: list[str], field: str = "data"
) -> list[Mapping[str, Any]]:
    """The rows (mappings) of `body[field]` of a GET; on an API error none, and a note:
    one list the backend cannot give leaves the others."""
    try:
        body = api.get(path, params=params) or {}
    except BackendError as error:  # answered with an error, or not at all
        notes.append(redact(f"no data from {path}: {error}"))
        return []
    rows = body.get(field) if isinstance(body, Mapping) else body
    return [r for r in rows or [] if isinstance(r, Mapping)]


@dataclass(frozen=True)
class Choice:
    """The endpoint to use, why, and the other usable endpoints in order of preference."""

    url: str | None
    reason: str
    fallbacks: tuple[str, ...] = ()

    @property
    def ranked(self) -> tuple[str, ...]:
        return ((self.url,) if self.url else ()) + self.fallbacks


def rank(nodes: Sequence[Node]) -> list[Node]:
    """Usable nodes: measured ones by latency, then the unmeasured in their given order."""
    usable = [n for n in nodes if n.usable]
    measured = sorted((n for n in usable if n.latency_ms is not None), key=_by_latency)
    return measured + [n for n in usable if n.latency_ms is None]


def _by_latency(node: Node) -> float:
    return node.latency_ms if node.latency_ms is not None else float("inf")


def choose_endpoint(
    nodes: Sequence[Node], current: str | None = None, source: str = "the previous choice"
) -> Choice:
    """Lowest latency wins; a `current` endpoint (an earlier choice, from `source`) is kept
    unless another usable node is more than 20% faster, or it is advertised as not ONLINE."""
    ranked = rank(nodes)
    if current is None:
        return _fresh_choice(ranked)
    current = normalize_url(current)
    known = next((n for n in nodes if n.url == current), None)
    others = [n for n in ranked if n.url != current]
    best = others[0] if others and others[0].latency_ms is not None else None
    label = f"{current} (from {source})"
    if known is not None and not known.usable:
        if others:
            return _switch(others, f"{label} is {known.status}")
        return Choice(current, f"kept {label}: it is {known.status} but no other node is online")
    if known is None or known.latency_ms is None:
        return Choice(current, f"kept {label}: no latency data for it", _urls(others))
    if best is not None and best.latency_ms is not None:
        if best.latency_ms < known.latency_ms * SWITCH_RATIO:
            why = f"more than 20% faster than {current} ({known.latency_ms:.0f} ms, from {source})"
            return Choice(best.url, f"chose {best.describe()}: {why}", _urls([known, *others[1:]]))
        reason = f"kept {known.describe()} from {source}: {best.describe()} is not 20% faster"
        return Choice(current, reason, _urls(others))
    return Choice(current, f"kept {known.describe()} from {source}", _urls(others))


def _fresh_choice(ranked: Sequence[Node]) -> Choice:
    if not ranked:
        return Choice(None, "no Bridge Node is online")
    first, rest = ranked[0], ranked[1:]
    if first.latency_ms is None:
        return Choice(first.url, f"chose {first.url}: no latency data for any node", _urls(rest))
    others = ", ".join(n.describe() for n in rest[:3])
    reason = f"chose {first.describe()}" + (f" over {others}" if others else ": the only node")
    return Choice(first.url, reason, _urls(rest))


def _switch(others: Sequence[Node], why: str) -> Choice:
    first = others[0]
    return Choice(first.url, f"chose {first.describe()}: {why}", _urls(others[1:]))


def _urls(nodes: Iterable[Node]) -> tuple[str, ...]:
    return tuple(n.url for n in nodes if n.usable)


# -- the AI gateway -------------------------------------------------------------------------


def gateway_pattern(region: str, provider: str) -> str:
    """`https://openai-<region>-<provider>.flashback.tech/v1`."""
    return f"https://openai-{region}-{provider}.flashback.tech/v1"


def openai_base_url(url: str) -> str:
    """A gateway node's URL as an OpenAI base URL: the SDK's paths follow `/v1`."""
    url = normalize_url(url)
    return url if url.endswith("/v1") else f"{url}/v1"


def _offers(row: Mapping[str, Any], service: int) -> bool:
    """False only for a row whose `nodeServices` bitmask lacks `service`."""
    value = row.get("nodeServices")
    try:
        return value is None or bool(int(value) & service)
    except (TypeError, ValueError):
        return True


def fetch_gateways(api: Any) -> tuple[list[Node], tuple[str, ...]]:
    """The AI gateway nodes the backend advertises (`GET /node?nodeServices=2`), their URLs
    as OpenAI base URLs; and a note when the backend could not list them."""
    notes: list[str] = []
    rows = fetch_rows(api, "/node", {"nodeServices": SERVICE_AI}, notes=notes)
    nodes = (
        Node(openai_base_url(str(r["url"])), latency(r), _status(r.get("status")), r.get("region"))
        for r in rows
        if r.get("url") and _offers(r, SERVICE_AI)
    )
    return _dedupe(nodes), tuple(notes)


def choose_gateway(nodes: Sequence[Node]) -> Choice:
    """The ONLINE gateway with the lowest latency; when none is online, the first advertised
    (the check then says so) rather than a gateway the backend does not advertise. `url` is
    None only when no gateway is advertised."""
    ranked = rank(nodes)
    if ranked:
        return _fresh_choice(ranked)
    if not nodes:
        return Choice(None, "the backend advertises no AI gateway node")
    first = nodes[0]
    return Choice(first.url, f"chose {first.url}: it is {first.status}, and no gateway is online")
