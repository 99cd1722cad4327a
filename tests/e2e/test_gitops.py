"""The README's GitHub Actions workflow, run as its script (examples/ci/gitops.sh) against
a real emulator server: plan on a pull request, apply the reviewed plan on merge."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fbplan.emulator.server import RunningEmulator, start_emulator
from tests.e2e.conftest import REPO, Run, User

SCRIPT = REPO / "examples" / "ci" / "gitops.sh"
TOKEN = "gitops-e2e-token"
HEAD = """\
version: 1
workspace: gitops
prune: {buckets: true}
"""
BUCKET = (
    "  {name}: {{bucket: gitops-{name}, storage_type: S3, region: us-east-1, key: AKIAGITOPS, "
    'secret: "${{env:GITOPS_SECRET}}"}}\n'
)


def spec(*names: str, approve: tuple[str, ...] = ()) -> str:
    text = HEAD + "buckets:\n" + "".join(BUCKET.format(name=n) for n in names)
    if approve:
        text += "approve:\n" + "".join(f"  - {line}\n" for line in approve)
    return text


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    with start_emulator(tmp_path / "emulator.db", TOKEN) as running:
        yield running


@pytest.fixture
def ci(user: User, emulator: RunningEmulator) -> User:
    user.env.update(
        FB_BACKEND_URL=emulator.backend_url,
        FB_JWT=TOKEN,
        GITOPS_SECRET="gitops-bucket-secret-0042",
        FBPLAN=f"{sys.executable} -m fbplan",
    )
    (user.cwd / "flashback").mkdir()
    return user


def step(user: User, *args: str) -> Run:
    done = subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=user.cwd,
        env=user.env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def pull_request(user: User, text: str) -> tuple[Run, str]:
    """The spec as the pull request changes it, and the plan job: (its run, the comment)."""
    (user.cwd / "flashback" / "spec.yaml").write_text(text)
    run = step(user, "plan", "flashback", "out")
    comment = (user.cwd / "out" / "plan.md").read_text()
    return run, comment


def merge(user: User) -> Run:
    return step(user, "apply", "flashback", "out/plan.json")


def live_buckets(emulator: RunningEmulator) -> dict[str, dict[str, object]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=emulator.backend_url, headers=headers) as api:
        workspaces = api.get("/workspace").json()["workspaces"]
        workspace = next(w["id"] for w in workspaces if w["name"] == "gitops")
        answer = api.get("/bucket", params={"workspaceId": workspace}).json()
    return {b["name"]: b for b in answer["buckets"]}


def test_a_pull_request_adding_resources_is_planned_commented_and_applied_on_merge(
    ci: User, emulator: RunningEmulator
) -> None:
    run, comment = pull_request(ci, spec("media", "logs"))
    assert run.code == 0, run.stderr
    assert (ci.cwd / "out" / "code").read_text().strip() == "2"
    assert "Plan: 3 to create" in comment
    assert json.loads((ci.cwd / "out" / "plan.json").read_text())["summary"]["create"] == 3
    applied = merge(ci)
    assert applied.code == 0, applied.stderr
    assert set(live_buckets(emulator)) == {"media", "logs"}
    assert "stale" not in applied.stderr


def test_a_delete_not_approved_is_refused_on_merge_and_the_comment_says_what_to_add(
    ci: User, emulator: RunningEmulator
) -> None:
    pull_request(ci, spec("media", "logs"))
    assert merge(ci).code == 0
    run, comment = pull_request(ci, spec("media"))
    assert run.code == 0, run.stderr
    assert "**Needs approval:**" in comment
    assert "> approve:\n>   - delete bucket.logs" in comment
    refused = merge(ci)
    assert refused.code == 3
    assert "not approved (delete bucket.logs)" in refused.stderr
    assert "logs" in live_buckets(emulator)


def test_a_delete_approved_in_review_is_carried_out_on_merge(
    ci: User, emulator: RunningEmulator
) -> None:
    pull_request(ci, spec("media", "logs"))
    assert merge(ci).code == 0
    run, comment = pull_request(ci, spec("media", approve=("delete bucket.logs",)))
    assert run.code == 0, run.stderr
    assert "Needs approval" not in comment
    assert "Approved in the spec (carried out on merge): `delete bucket.logs`" in comment
    applied = merge(ci)
    assert applied.code == 0, applied.stderr
    assert set(live_buckets(emulator)) == {"media"}
    _, after = pull_request(ci, spec("media", approve=("delete bucket.logs",)))
    assert "approve: delete bucket.logs matches no change in this plan; remove it" in after


def test_a_merge_after_the_live_state_moved_refuses_the_saved_plan_and_plans_again(
    ci: User, emulator: RunningEmulator
) -> None:
    pull_request(ci, spec("media"))
    assert merge(ci).code == 0
    run, _ = pull_request(ci, spec("media", "logs"))
    assert run.code == 0
    media = live_buckets(emulator)["media"]
    body = {k: media[k] for k in ("name", "bucket", "storageType", "workspaceId", "key")}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=emulator.backend_url, headers=headers) as api:
        api.put(f"/bucket/{media['id']}", json={**body, "region": "eu-west-3"}).raise_for_status()
    applied = merge(ci)
    assert applied.code == 0, applied.stderr
    assert "the live workspace changed since the plan was saved" in applied.stderr
    assert "The reviewed plan is stale: it was not applied. Planning again" in applied.stderr
    live = live_buckets(emulator)
    assert set(live) == {"media", "logs"}
    assert live["media"]["region"] == "us-east-1"


def test_the_readme_workflow_runs_the_steps_tested_here() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Outputs for CI") : readme.index("## Smoke checks")]
    workflow = section[section.index("```yaml") : section.index("```\n", section.index("```yaml"))]
    assert "run: bash ci/gitops.sh plan flashback/ out/" in workflow
    assert "run: bash ci/gitops.sh apply flashback/ out/plan.json" in workflow
    assert "path: out/plan.json" in workflow  # the plan file is kept as an artifact
    assert "with: {path: out/plan.md}" in workflow  # and the comment is the script's
    assert "[examples/ci/gitops.sh](examples/ci/gitops.sh)" in section
