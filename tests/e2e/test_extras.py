"""The base install and its extras, as a user meets them: the quickstart needs neither
openai (`ai`) nor cel-python (`checks`); a command that needs a missing one says which
`pip install` to run, before it sends any request or changes anything.

"Not installed" is made real for fbplan's process: a `sitecustomize` on PYTHONPATH puts a
finder first on `sys.meta_path` that answers "No module named ..." for those packages, as
Python does when a package is missing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import REPO, User, emulator_server

pytestmark = pytest.mark.e2e

QUICKSTART = "examples/quickstart.yaml"
FULL = "examples/full.yaml"
CHECKS = "examples/checks.yaml"
PROVIDER_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAEXTRASEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-for-extras-never-shown",
    "OPENAI_API_KEY": "sk-upstream-for-extras-never-shown",
}


def _smoke_ai_line() -> int:
    """Where examples/full.yaml writes `ai:` under `smoke:` (1-based)."""
    lines = (REPO / FULL).read_text(encoding="utf-8").splitlines()
    return lines.index("  ai:", lines.index("smoke:")) + 1


AI_MISSING = (
    f"{FULL}:{_smoke_ai_line()}:3: smoke.ai: AI smoke checks need the openai package, "
    "which is not installed; install it with: pip install 'fbplan[ai]'"
)
CHECKS_MISSING = (
    "plan checks need the cel-python package, which is not installed; install it with: "
    "pip install 'fbplan[checks]'"
)

_BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

UNINSTALLED = {names!r}


class Uninstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in UNINSTALLED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Uninstalled())
"""


def uninstall(user: User, *packages: str) -> None:
    """Make `packages` unimportable in the user's next commands."""
    folder = user.cwd / "uninstalled"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(_BLOCKER.format(names=set(packages)))
    user.env["PYTHONPATH"] = f"{folder}:{user.env['PYTHONPATH']}"
    for package in packages:
        tried = subprocess.run(
            [sys.executable, "-c", f"import {package}"],
            env=user.env,
            capture_output=True,
            timeout=60,
        )
        assert tried.returncode == 1, f"{package} still imports"


def reinstall(user: User) -> None:
    user.env["PYTHONPATH"] = user.env["PYTHONPATH"].split(":", 1)[1]


def planned_from_scratch(user: User) -> str:
    """The plan of examples/full.yaml now, asserting that it creates everything."""
    planned = user.fbplan("plan", FULL)
    assert planned.code == 0, planned.stderr
    assert "Plan: 13 to create, 0 to update, 0 to replace, 0 to delete." in planned.stdout
    return planned.stdout


def test_the_quickstart_runs_with_neither_openai_nor_cel_python(user):
    uninstall(user, "openai", "celpy")
    applied = user.fbplan("apply", "--local", "--yes", QUICKSTART)
    assert applied.code == 0, applied.stderr
    assert "Smoke: 1 check, 1 passed." in applied.stdout


def test_an_ai_smoke_check_without_openai_names_the_spec_line_and_changes_nothing(user):
    user.env.update(PROVIDER_ENV)
    with emulator_server(user, token="extras-token"):
        before = planned_from_scratch(user)
        uninstall(user, "openai")
        applied = user.fbplan("apply", "--yes", FULL)
        assert applied.code == 1
        assert applied.stderr == f"Error: {AI_MISSING}\n"
        assert applied.stdout == ""
        assert user.fbplan("plan", FULL).stdout == before
        smoke = user.fbplan("smoke", FULL)
        assert smoke.code == 1
        assert smoke.stderr == applied.stderr
        # Without the smoke checks, openai is not needed.
        skipped = user.fbplan("apply", "--yes", "--no-smoke", FULL)
        assert skipped.code == 0, skipped.stderr
        assert "Running smoke checks" not in skipped.stderr


def test_checks_without_cel_python_name_the_option_and_change_nothing(user):
    user.env.update(PROVIDER_ENV)
    with emulator_server(user, token="extras-token"):
        before = planned_from_scratch(user)
        saved = user.fbplan("plan", "--checks", CHECKS, "--out", "plan.json", FULL)
        assert saved.code == 0, saved.stderr
        uninstall(user, "celpy")
        planned = user.fbplan("plan", "--checks", CHECKS, FULL)
        assert (planned.code, planned.stdout) == (1, "")
        assert planned.stderr == f"Error: --checks {CHECKS}: {CHECKS_MISSING}\n"
        applied = user.fbplan("apply", "--yes", "--checks", CHECKS, FULL)
        assert (applied.code, applied.stderr) == (1, planned.stderr)
        from_plan = user.fbplan("apply", "--yes", "--plan", "plan.json")
        assert from_plan.code == 1
        assert from_plan.stderr == f"Error: the plan's checks file {CHECKS}: {CHECKS_MISSING}\n"
        assert user.fbplan("plan", FULL).stdout == before


def test_stacks_apply_the_one_that_needs_no_extra_and_fail_the_other(user):
    user.env.update(PROVIDER_ENV)
    uninstall(user, "openai")
    applied = user.fbplan("apply", "--local", "--yes", QUICKSTART, FULL)
    assert applied.code == 1
    assert f"\nError ({FULL}): {AI_MISSING}\n" in applied.stderr
    assert re.search(r"^examples/quickstart.yaml +quickstart +4 +applied +0$", applied.stdout, re.M)
    reinstall(user)
    assert "Plan: 13 to create," in user.fbplan("plan", "--local", FULL).stdout
    assert "No changes." in user.fbplan("plan", "--local", QUICKSTART).stdout
