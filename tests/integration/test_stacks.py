"""Stacks: several specs (one workspace each) planned, applied, drifted and validated in one
run over an emulator started on a free port (real HTTP), with one summary, one exit code
(the most severe) and one request budget for them all."""

from __future__ import annotations

import json
import re
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fbplan.cli.main import cli
from fbplan.emulator.server import RunningEmulator, start_emulator
from fbplan.plan.render.markdown import DEFAULT_MAX_CHARS

pytestmark = pytest.mark.usefixtures("fast_fingerprints")

BUCKET_SECRET = "stacks-bucket-secret-0042"


def policies(workspace: str, count: int = 1) -> str:
    lines = [f"version: 1\nworkspace: {workspace}\npolicies:"]
    lines += [
        f"  rule-{i}: {{scope: workspace, risk: LOW, action: log, content: 'Rule {i} of "
        f"{workspace}, written out at some length to fill a comment.'}}"
        for i in range(count)
    ]
    return "\n".join(lines) + "\n"


KEY_WITHOUT_SINK = """\
version: 1
workspace: team-keys
buckets:
  media: {bucket: keys-media, storage_type: S3, region: us-east-1, key: AKIAKEYS, secret: "${env:STACKS_SECRET}"}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: media, folder: media, master: true}]
    api_keys: {app-rw: {access: WRITE}}
"""


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    """An emulator on a free port as FB_BACKEND_URL, and a scratch folder as the cwd."""
    token = secrets.token_urlsafe(24)
    running = start_emulator(tmp_path / "emulator.db", token)
    monkeypatch.setenv("FB_BACKEND_URL", running.backend_url)
    monkeypatch.setenv("FB_JWT", token)
    monkeypatch.setenv("STACKS_SECRET", BUCKET_SECRET)
    monkeypatch.chdir(tmp_path)
    yield running
    running.stop()


def stack(name: str, text: str) -> Path:
    folder = Path("stacks") / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.yaml").write_text(textwrap.dedent(text))
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def summary(result: Result) -> dict[str, list[str]]:
    """The summary table's rows by stack: workspace, changes, result, exit."""
    lines = result.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("STACK "))
    rows = {}
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) >= 5 and cells[0].startswith("stacks/"):
            rows[cells[0]] = [cells[1], cells[2], " ".join(cells[3:-1]), cells[-1]]
    return rows


def test_a_folder_of_stacks_plans_every_stack_with_one_summary(
    emulator: RunningEmulator,
) -> None:
    for name in ("alpha", "beta", "gamma"):
        stack(name, policies(f"team-{name}", 2))
    result = run("plan", "stacks")
    assert result.exit_code == 0, result.output
    for name in ("alpha", "beta", "gamma"):
        assert f"=== stack stacks/{name} (workspace team-{name}) ===" in result.stdout
        assert f'fbplan plan for workspace "team-{name}"' in result.stdout
    assert summary(result) == {
        f"stacks/{name}": [f"team-{name}", "3", "changes", "0"]
        for name in ("alpha", "beta", "gamma")
    }
    assert "Requests:" in result.stderr
    detailed = run("plan", "--detailed-exitcode", "stacks/alpha", "stacks/beta")
    assert detailed.exit_code == 2
    assert set(summary(detailed)) == {"stacks/alpha", "stacks/beta"}


def test_one_spec_runs_exactly_as_before(emulator: RunningEmulator) -> None:
    stack("alpha", policies("team-alpha"))
    result = run("plan", "stacks/alpha")
    assert result.exit_code == 0
    assert "STACK" not in result.stdout and "===" not in result.stdout
    assert result.stdout.startswith('fbplan plan for workspace "team-alpha"')


def test_failing_stacks_do_not_stop_the_others_and_the_most_severe_exit_wins(
    emulator: RunningEmulator,
) -> None:
    stack("alpha", policies("team-alpha"))
    stack("broken", "version: 1\nworkspace: [unclosed\n")
    stack("keys", KEY_WITHOUT_SINK)
    result = run("plan", "stacks")
    assert result.exit_code == 1  # an error outranks a block
    assert summary(result) == {
        "stacks/alpha": ["team-alpha", "2", "changes", "0"],
        "stacks/broken": ["-", "-", "error", "1"],
        "stacks/keys": ["team-keys", "4", "blocked", "3"],
    }
    assert "Error (stacks/broken): stacks/broken/spec.yaml:" in result.stderr
    assert "+ policy.rule-0 will be created" in result.stdout
    blocked = run("plan", "stacks/alpha", "stacks/keys")
    assert blocked.exit_code == 3
    assert BUCKET_SECRET not in result.output + blocked.output


def test_json_holds_every_stack_and_the_run_exit(emulator: RunningEmulator) -> None:
    stack("alpha", policies("team-alpha"))
    stack("broken", "version: 1\n")
    result = run("plan", "--format", "json", "stacks")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["kind"] == "stacks" and document["exit"] == 1
    alpha, broken = document["stacks"]
    assert alpha["stack"] == "stacks/alpha" and alpha["result"] == "changes"
    assert alpha["plan"]["workspace"] == "team-alpha"
    assert alpha["plan"]["summary"]["create"] == 2
    assert broken["exit"] == 1 and broken["plan"] is None and "workspace" in broken["error"]
    assert document["requests"]["total"] > 0


def test_markdown_is_one_comment_with_a_section_per_stack_under_the_size_limit(
    emulator: RunningEmulator,
) -> None:
    names = [f"s{i:02d}" for i in range(8)]
    for name in names:
        stack(name, policies(f"team-{name}", 120))
    result = run("plan", "--format", "markdown", "stacks")
    assert result.exit_code == 0
    comment = result.stdout
    assert len(comment) <= DEFAULT_MAX_CHARS
    assert comment.startswith("## fbplan plan: 8 stacks")
    for name in names:
        assert f"| `stacks/{name}` | `team-{name}` | 121 | changes | 0 |" in comment
        assert f"### fbplan plan: `team-{name}`" in comment
    assert "more changes not shown" in comment


def test_apply_of_several_stacks_then_plan_is_empty(emulator: RunningEmulator) -> None:
    for name in ("alpha", "beta"):
        stack(name, policies(f"team-{name}", 2))
    refused = run("apply", "stacks")
    assert refused.exit_code == 1
    assert "pass --yes" in refused.stderr
    missing = run("drift", "stacks")
    assert missing.exit_code == 2
    assert {row[2] for row in summary(missing).values()} == {"drift"}
    applied = run("apply", "--yes", "--stack-parallelism", "2", "stacks")
    assert applied.exit_code == 0, applied.output
    assert summary(applied) == {
        f"stacks/{name}": [f"team-{name}", "3", "applied", "0"] for name in ("alpha", "beta")
    }
    assert re.search(
        r"\[stacks/alpha\] \[[23]/3\] policy.rule-0: Creation complete", applied.stderr
    )
    again = run("plan", "--detailed-exitcode", "stacks")
    assert again.exit_code == 0
    assert {row[2] for row in summary(again).values()} == {"no changes"}
    drift = run("drift", "stacks")
    assert drift.exit_code == 0
    assert {row[2] for row in summary(drift).values()} == {"no drift"}


def test_two_stacks_of_one_workspace_are_refused(emulator: RunningEmulator) -> None:
    stack("alpha", policies("team-same"))
    stack("beta", policies("team-same"))
    result = run("plan", "stacks")
    assert result.exit_code == 1
    assert summary(result)["stacks/alpha"][2] == "changes"
    assert summary(result)["stacks/beta"][2] == "error"
    assert "the workspace team-same is also the workspace of the stack stacks/alpha" in (
        result.stderr
    )


def test_flags_for_one_workspace_are_refused_with_several_stacks(
    emulator: RunningEmulator,
) -> None:
    stack("alpha", policies("team-alpha"))
    stack("beta", policies("team-beta"))
    for flags, words in (
        (("--out", "plan.json"), "--out saves the plan of one stack"),
        (("--target", "policy.rule-0"), "--target names one workspace's resources"),
    ):
        result = run("plan", *flags, "stacks")
        assert result.exit_code == 1
        assert words in result.stderr
    assert not Path("plan.json").exists()


def test_validate_checks_every_stack(emulator: RunningEmulator) -> None:
    stack("alpha", policies("team-alpha"))
    stack("broken", "version: 1\nworkspace: team-broken\npolicies: {p: {scope: nowhere}}\n")
    result = run("validate", "stacks/alpha", "stacks/broken")
    assert result.exit_code == 1
    assert summary(result)["stacks/alpha"][2] == "valid"
    assert summary(result)["stacks/broken"][2] == "error"
    assert "stacks/broken/spec.yaml:3:" in result.stderr


def test_max_rps_paces_every_stack_together(emulator: RunningEmulator) -> None:
    for name in ("alpha", "beta", "gamma"):
        stack(name, policies(f"team-{name}"))
    rate = 10.0
    result = run("plan", "--max-rps", str(rate), "--format", "json", "stacks")
    assert result.exit_code == 0, result.output
    seen = emulator.recorder.entries()
    budget = json.loads(result.stdout)["requests"]
    assert budget["total"] == len(seen)  # every request of every stack drew on the budget
    # Requests leave one every 1/rate seconds, whichever stack sends them: the emulator
    # sees the last at least (n - 1) / rate after the first (less the first one's trip).
    arrived = sorted(_arrival(entry) for entry in seen)
    assert arrived[-1] - arrived[0] >= (len(seen) - 1) / rate - 0.5


def _arrival(entry: dict[str, object]) -> float:
    from datetime import datetime

    done = datetime.fromisoformat(str(entry["at"]).replace("Z", "+00:00")).timestamp()
    return done - float(entry["durationMs"]) / 1000  # type: ignore[arg-type]


def test_a_burst_of_429s_slows_every_stack_and_all_succeed(emulator: RunningEmulator) -> None:
    for name in ("alpha", "beta", "gamma"):
        stack(name, policies(f"team-{name}"))
    emulator.faults.set_rules(
        [{"action": "throttle", "method": "GET", "path": "/workspace*", "count": 3}]
    )
    result = run("plan", "--format", "json", "stacks")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [s["result"] for s in document["stacks"]] == ["changes"] * 3
    assert document["requests"]["throttled"] == 3
    assert "3 refused with 429, which slowed every stack" in result.stderr
    statuses = [entry["status"] for entry in emulator.recorder.entries()]
    assert statuses.count(429) == 3


def test_a_429_seen_by_one_client_pauses_the_other(tmp_path: Path) -> None:
    """The hook in the client: two clients (two stacks) on one budget, in-process."""
    import httpx

    from fbplan.backend.budget import RequestBudget
    from fbplan.backend.client import BackendClient
    from fbplan.emulator.api import create_backend_app
    from fbplan.emulator.faults import FaultInjector
    from fbplan.emulator.store import Store
    from fbplan.errors import ApiError

    now = [0.0]
    budget = RequestBudget(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    faults = FaultInjector(
        [{"action": "throttle", "path": "/workspace", "retry_after": 7, "count": 1}]
    )
    app = create_backend_app(Store(str(tmp_path / "e.db")), "t", faults)

    def client(**kw: object) -> BackendClient:
        transport = httpx.WSGITransport(app=app)  # type: ignore[arg-type]
        return BackendClient("http://e.test", "t", transport=transport, budget=budget, **kw)  # type: ignore[arg-type]

    first, second = client(max_attempts=1), client()
    with pytest.raises(ApiError) as refused:
        first.get("/workspace")
    assert refused.value.status == 429 and now[0] == 0.0
    second.get("/workspace")
    assert now[0] == pytest.approx(7.0)  # the other client waited out the Retry-After
    assert budget.report().throttles == 1
