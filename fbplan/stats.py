"""Usage statistics of a spec's repositories and buckets: `collect_stats(spec, connection)`.

    spec ─► read live (ids by name) ─► /repo/stats, /bucket/stats   totals
                                     ─► /stats/minute               the last hour
                                     ─► /stats/nodes/minute, /node  node latency and status
                                     ─► /aistats/daily              AI usage (last 30 days)
         ─► StatsReport (plain data) ─► text table | JSON

Only the workspace, its buckets and its repos are read live (for their ids). Node
telemetry is read and summarized by `fbplan.smoke.endpoints`, as the smoke checks' endpoint
choice reads it. The API sends byte and token counters as decimal strings; the report holds
integers. A section the backend cannot answer is left empty with a note; nothing here
prints.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from statistics import fmean
from typing import Any

from fbplan.backend.live import read_live
from fbplan.kinds import KINDS
from fbplan.model import State
from fbplan.printable import printable
from fbplan.secrets.values import redact
from fbplan.smoke.endpoints import fetch_rows, fetch_telemetry, latency, node_telemetry
from fbplan.spec import Spec

AI_DAYS = 30
#: What traffic is counted against: the data plane's top-level objects (workspace, buckets, repos).
LIVE_KINDS = tuple(kind for kind in KINDS if kind.data_plane and not kind.parent_kind)
Rows = Callable[..., list[Mapping[str, Any]]]  # fetch_rows with the api and notes bound


@dataclass(frozen=True)
class Traffic:
    upload_bytes: int = 0
    download_bytes: int = 0
    size_change_bytes: int = 0


@dataclass(frozen=True)
class RepoStats:
    name: str
    id: str
    total: Traffic
    last_hour: Traffic
    last_hour_minutes: int  # minutes of the last hour with traffic
    last_hour_latency_ms: float | None


@dataclass(frozen=True)
class BucketStats:
    name: str
    id: str
    count: int  # `totalCount` of /bucket/stats
    total: Traffic


@dataclass(frozen=True)
class NodeStats:
    node_id: str
    url: str | None
    status: str
    latency_ms: float | None
    last_updated: str | None
    buckets: tuple[str, ...]


@dataclass(frozen=True)
class AiUsage:
    repo: str
    model: str
    llm_type: str | None
    api_calls: int
    tokens_in: int
    tokens_out: int
    policy_violations: int
    blocks: int
    latency_ms: float | None


@dataclass
class StatsReport:
    workspace: str
    generated_at: str
    repos: list[RepoStats] = field(default_factory=list)
    buckets: list[BucketStats] = field(default_factory=list)
    nodes: list[NodeStats] = field(default_factory=list)
    ai: list[AiUsage] = field(default_factory=list)
    ai_days: int = AI_DAYS
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_int(value: Any) -> int:
    """An API counter (a decimal string, a number or null) as an integer."""
    if value is None or value == "":
        return 0
    try:
        return int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return 0


def collect_stats(
    spec: Spec, connection: Any, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> StatsReport:
    """Statistics of the repositories and buckets `spec` declares, read from the live API."""
    moment = now()
    report = StatsReport(spec.workspace_name, _iso(moment))
    live = read_live(connection.api, spec.workspace_name, LIVE_KINDS)
    repos = _ids(live, "repo", spec.data.get("repos") or {}, report.notes)
    buckets = _ids(live, "bucket", spec.data.get("buckets") or {}, report.notes)
    rows = functools.partial(fetch_rows, connection.api, notes=report.notes)
    report.repos = _repo_stats(rows, repos, moment)
    report.buckets = _bucket_stats(rows, buckets)
    report.nodes = _node_stats(connection.api, buckets, report.notes)
    report.ai = _ai_usage(rows, repos, moment)
    return report


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(live: State, kind: str, declared: Mapping[str, Any], notes: list[str]) -> dict[str, str]:
    """name -> live id for the declared objects of `kind`; a note for each one missing."""
    found = {}
    for name in declared:
        resource = live.get(f"{kind}.{name}")
        if resource is None or not resource.id:
            notes.append(f"{kind} {name} does not exist in workspace {live.workspace} yet")
        else:
            found[name] = resource.id
    return found


def _traffic(row: Mapping[str, Any], up: str, down: str, change: str) -> Traffic:
    return Traffic(to_int(row.get(up)), to_int(row.get(down)), to_int(row.get(change)))


def _repo_stats(rows: Rows, repos: Mapping[str, str], moment: datetime) -> list[RepoStats]:
    if not repos:
        return []
    ids = list(repos.values())
    totals = {r.get("repoId"): r for r in rows("/repo/stats", {"repoId": ids}, field="stats")}
    # The end is padded by a minute: the current minute's rows are stamped with its start
    # and the backend's clock may run a little ahead of ours.
    window = {
        "repoId": ids,
        "startDate": _iso(moment - timedelta(hours=1)),
        "endDate": _iso(moment + timedelta(minutes=1)),
    }
    minutes = rows("/stats/minute", window)
    result = []
    for name, repo_id in sorted(repos.items()):
        mine = [r for r in minutes if r.get("repoId") == repo_id]
        total = _traffic(totals.get(repo_id) or {}, *_TOTAL_FIELDS)
        hour = _sum(_traffic(r, "upl_bytes", "dwl_bytes", "size_change") for r in mine)
        stamps = {r.get("timestamp") for r in mine}
        result.append(RepoStats(name, repo_id, total, hour, len(stamps), _mean_latency(mine)))
    return result


_TOTAL_FIELDS = ("totalUploadBytes", "totalDownloadBytes", "totalSizeChange")


def _sum(items: Iterable[Traffic]) -> Traffic:
    up = down = change = 0
    for item in items:
        up, down = up + item.upload_bytes, down + item.download_bytes
        change += item.size_change_bytes
    return Traffic(up, down, change)


def _mean_latency(rows: Sequence[Mapping[str, Any]]) -> float | None:
    values = [v for v in (latency(r) for r in rows) if v is not None]
    return _round(fmean(values)) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _bucket_stats(rows: Rows, buckets: Mapping[str, str]) -> list[BucketStats]:
    if not buckets:
        return []
    params = {"bucketId": list(buckets.values())}
    found = {r.get("bucketId"): r for r in rows("/bucket/stats", params, field="stats")}
    return [
        BucketStats(
            name,
            bucket_id,
            to_int((found.get(bucket_id) or {}).get("totalCount")),
            _traffic(found.get(bucket_id) or {}, *_TOTAL_FIELDS),
        )
        for name, bucket_id in sorted(buckets.items())
    ]


def _node_stats(api: Any, buckets: Mapping[str, str], notes: list[str]) -> list[NodeStats]:
    """Every Bridge Node the backend lists or reports on, with the latency and status seen
    for the spec's buckets (node stats are asked for only when it has some)."""
    telemetry = fetch_telemetry(api, sorted(buckets.values()))
    notes.extend(telemetry.notes)
    names = {bucket_id: name for name, bucket_id in buckets.items()}
    nodes = node_telemetry(telemetry.node_rows, telemetry.stat_rows)
    return [
        NodeStats(
            node.node_id,
            node.url,
            node.status,
            _round(node.latency_ms),
            node.last_updated,
            tuple(sorted(names.get(b, b) for b in node.bucket_ids)),
        )
        for node in sorted(nodes, key=lambda n: n.node_id)
    ]


def _ai_usage(rows: Rows, repos: Mapping[str, str], moment: datetime) -> list[AiUsage]:
    if not repos:
        return []
    start = (moment - timedelta(days=AI_DAYS - 1)).date().isoformat()
    end = _iso(moment + timedelta(minutes=1))
    params = {"repoId": list(repos.values()), "startDate": start, "endDate": end}
    names = {repo_id: name for name, repo_id in repos.items()}
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows("/aistats/daily", params):
        repo = names.get(str(row.get("repoId")), str(row.get("repoId")))
        groups.setdefault((repo, str(row.get("llmModel") or "?")), []).append(row)
    return [_ai_row(repo, model, group) for (repo, model), group in sorted(groups.items())]


def _ai_row(repo: str, model: str, rows: Sequence[Mapping[str, Any]]) -> AiUsage:
    def total(name: str) -> int:
        return sum(to_int(r.get(name)) for r in rows)

    llm_type = next((str(r["llmType"]) for r in rows if r.get("llmType")), None)
    return AiUsage(
        repo,
        model,
        llm_type,
        total("apiCalls"),
        total("tokensIn"),
        total("tokensOut"),
        total("policyViolations"),
        total("numBlocks"),
        _mean_latency(rows),
    )


# -- rendering ------------------------------------------------------------------------------


def render_json(report: StatsReport) -> str:
    return redact(json.dumps(report.to_dict(), indent=2)) + "\n"


def human_bytes(count: int) -> str:
    value, sign = float(abs(count)), "-" if count < 0 else ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, indented by two."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    return [
        "  " + "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip()
        for line in (headers, *rows)
    ]


def render_text(report: StatsReport) -> str:
    lines = [f"Statistics of workspace {report.workspace} at {report.generated_at}", ""]
    for title, section in _sections(report):
        lines.append(title)
        lines.extend(section or ["  (none)"])
        lines.append("")
    lines.extend(f"note: {note}" for note in report.notes)
    return redact("\n".join(printable(line) for line in lines).rstrip("\n")) + "\n"


def _sections(report: StatsReport) -> list[tuple[str, list[str]]]:
    return [
        ("Repositories (totals and the last hour)", _repo_table(report.repos)),
        ("Buckets", _bucket_table(report.buckets)),
        ("Bridge Nodes", _node_table(report.nodes)),
        (f"AI usage (last {report.ai_days} days)", _ai_table(report.ai)),
    ]


def _repo_table(repos: Sequence[RepoStats]) -> list[str]:
    head = ("repo", "upload", "download", "size change", "up 1h", "down 1h", "latency 1h")
    rows = [
        (r.name, *_bytes(r.total), *_bytes(r.last_hour)[:2], _ms(r.last_hour_latency_ms))
        for r in repos
    ]
    return table(head, rows) if rows else []


def _bucket_table(buckets: Sequence[BucketStats]) -> list[str]:
    head = ("bucket", "count", "upload", "download", "size change")
    rows = [(k.name, str(k.count), *_bytes(k.total)) for k in buckets]
    return table(head, rows) if rows else []


def _node_table(nodes: Sequence[NodeStats]) -> list[str]:
    head = ("node", "url", "status", "latency", "updated")
    rows = [
        (n.node_id, n.url or "-", n.status, _ms(n.latency_ms), n.last_updated or "-") for n in nodes
    ]
    return table(head, rows) if rows else []


def _ai_table(usage: Sequence[AiUsage]) -> list[str]:
    head = ("repo", "model", "calls", "tokens in", "tokens out", "violations", "blocks")
    rows = [
        (
            u.repo,
            u.model,
            *(str(n) for n in (u.api_calls, u.tokens_in, u.tokens_out)),
            str(u.policy_violations),
            str(u.blocks),
        )
        for u in usage
    ]
    return table(head, rows) if rows else []


def _bytes(traffic: Traffic) -> tuple[str, str, str]:
    return (
        human_bytes(traffic.upload_bytes),
        human_bytes(traffic.download_bytes),
        human_bytes(traffic.size_change_bytes),
    )
