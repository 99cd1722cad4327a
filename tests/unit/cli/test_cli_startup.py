"""Start-up: `fbplan --help` and `fbplan validate` load only what they need.

Every command pays for what is imported before it runs; these checks keep the HTTP
client, the emulator and the apply machinery out of the commands that need none of them.
Timings are in benchmarks/, not here.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fbplan.cli.main import COMMANDS, cli

HEAVY = (
    "httpx",
    "tenacity",
    "boto3",
    "flask",
    "rich",
    "openai",
    "fbplan.emulator",
    "fbplan.apply.executor",
    "fbplan.checks",  # CEL
)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_help_lists_every_command_with_its_own_first_line() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for name, (module, line) in COMMANDS.items():
        command = getattr(importlib.import_module(module), name)
        assert command.get_short_help_str(limit=1000) == line
        assert f"{name}  " in result.output


def test_help_imports_no_command_module() -> None:
    modules = _modules_after(
        "import sys\nsys.argv = ['fbplan', '--help']\n"
        "from fbplan.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert "fbplan.cli.main" in modules
    assert not any(_loaded(modules, name) for name in (*HEAVY, "jsonschema", "fbplan.workflow"))


FULL_ENV = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "OPENAI_API_KEY": "k"}


def _modules_after_validate(spec: str, code: int) -> set[str]:
    return _modules_after(
        f"import os, sys\nos.environ.update({FULL_ENV!r})\n"
        f"sys.argv = ['fbplan', 'validate', {spec!r}]\n"
        "from fbplan.cli.main import main\ntry:\n    main()\nexcept SystemExit as e:\n"
        f"    assert e.code == {code}, e.code"
    )


@pytest.mark.parametrize("spec", ["examples/quickstart.yaml", "examples/full.yaml"])
def test_validate_of_a_valid_spec_loads_neither_the_http_client_nor_apply_nor_jsonschema(
    spec: str,
) -> None:
    modules = _modules_after_validate(spec, 0)
    assert "fbplan.spec.schema_check" in modules
    heavy = (*HEAVY, "fbplan.workflow", "jsonschema")
    assert [name for name in heavy if _loaded(modules, name)] == []


def test_validate_of_an_invalid_spec_asks_jsonschema_what_is_wrong() -> None:
    modules = _modules_after_validate("tests/unit/spec/fixtures/typo-in-field.yaml", 1)
    assert "jsonschema" in modules
    assert [name for name in (*HEAVY, "fbplan.workflow") if _loaded(modules, name)] == []


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["nope"])
    assert result.exit_code == 1
    assert "No such command 'nope'" in result.output


@pytest.mark.parametrize("command", ["plan", "apply"])  # drift lives in cli.plan
def test_commands_that_read_the_backend_load_no_validator_or_cel_before_their_first_request(
    command: str,
) -> None:
    """jsonschema explains only what is invalid (a spec, a checks file, a saved plan, an
    answer); cel-python runs only with --checks: a plan without them pays for neither."""
    modules = _modules_after(f"import fbplan.cli.{command}, fbplan.workflow")
    assert not _loaded(modules, "jsonschema")
    assert not _loaded(modules, "celpy")
    assert not _loaded(modules, "openai")
