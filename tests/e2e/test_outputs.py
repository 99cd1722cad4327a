"""Outputs as a user meets them: apply writes the application's configuration, an
application connects with nothing else, GitHub Actions gets its values with the secrets
masked, and no other output shows a secret."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.e2e.conftest import emulator_server as shared_emulator_server

pytestmark = pytest.mark.e2e

FULL = "examples/full.yaml"
PROVIDER_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAOUTPUTSEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-for-outputs-never-shown",
    "OPENAI_API_KEY": "sk-upstream-for-outputs-never-shown",
}


def dotenv(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {name: value.strip('"') for name, value in pairs}


def emulator_server(user):
    return shared_emulator_server(user, token="outputs-token")


def test_the_application_check_connects_with_only_the_dotenv_file_apply_wrote(user):
    user.env.update(PROVIDER_ENV)
    with emulator_server(user):
        applied = user.fbplan("apply", "--yes", FULL)
        assert applied.code == 0, applied.stderr
        assert "Outputs: 8 values written to app (dotenv file .fbplan/acme-app.env)." in (
            applied.stdout
        )
        bare = {"PATH": os.environ["PATH"], "HOME": str(user.cwd)}  # no FB_*, AWS_*, fbplan
        app = subprocess.run(
            [sys.executable, "examples/app_check.py", ".fbplan/acme-app.env"],
            cwd=user.cwd,
            env=bare,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert app.returncode == 0, app.stderr
    lines = app.stdout.splitlines()
    assert lines[0].startswith("storage ok: put, got and deleted s3://acme-app/app-check/")
    assert lines[1].startswith("ai ok: gpt-4o-mini answered via http://127.0.0.1:")
    config = dotenv((user.cwd / ".fbplan" / "acme-app.env").read_text())
    assert config["FB_KEY_SECRET"] not in app.stdout + app.stderr


def test_github_actions_gets_masked_secrets_and_no_other_output_shows_one(user):
    github_env, github_output = user.cwd / "github_env", user.cwd / "github_output"
    user.env.update(
        PROVIDER_ENV,
        GITHUB_ACTIONS="true",
        GITHUB_ENV=str(github_env),
        GITHUB_OUTPUT=str(github_output),
    )
    applied = user.fbplan("apply", "--local", "--yes", FULL)
    assert applied.code == 0, applied.stderr
    config = dotenv((user.cwd / ".fbplan" / "acme-app.env").read_text())
    sink = dotenv((user.cwd / ".fbplan" / "full-secrets.env").read_text())
    secrets = [config["FB_KEY_SECRET"], config["FB_OPENAI_API_KEY"]]
    assert secrets == [
        sink["ACME_APP_API_KEY_APP_RW_SECRET"],
        sink["ACME_APP_AI_API_KEY_APP_AI_SECRET"],
    ]

    # GitHub Actions: every value in GITHUB_ENV, each secret announced with ::add-mask::
    # on stdout, only the two chosen values (no secret) in GITHUB_OUTPUT.
    assert dotenv(github_env.read_text()) == config
    masks = [line for line in applied.stdout.splitlines() if line.startswith("::add-mask::")]
    assert sorted(masks) == sorted(f"::add-mask::{secret}" for secret in secrets)
    assert dotenv(github_output.read_text()) == {
        "FB_S3_ENDPOINT": config["FB_S3_ENDPOINT"],
        "FB_REPO_ID": config["FB_REPO_ID"],
    }
    # The smoke checks used the values the application got.
    assert f"ok      storage acme-app/app-rw via {config['FB_S3_ENDPOINT']} " in applied.stdout
    assert f"ok      ai acme-app/app-ai via {config['FB_OPENAI_BASE_URL']} " in applied.stdout

    report = "\n".join(line for line in applied.stdout.splitlines() if line not in masks)
    outputs = [report, applied.stderr, github_output.read_text()]
    for args in (
        ("plan", "--local", "--format", "json", FULL),
        ("plan", "--local", "--format", "markdown", FULL),
        ("drift", "--local", FULL),
        ("smoke", "--local", "--format", "json", FULL),
        ("output", "--local", FULL),
        ("output", "--local", "--format", "json", FULL),
        ("output", "--local", "--format", "dotenv", FULL),
        ("output", "--local", FULL, "FB_KEY_SECRET"),
    ):
        run = user.fbplan(*args)
        assert run.code in (0, 2), (args, run.stderr)
        outputs += [run.stdout, run.stderr]
    outputs.append((user.cwd / ".fbplan" / "local.fingerprints.json").read_text())
    for text in outputs:
        for secret in secrets:
            assert secret not in text


def test_output_shows_secrets_only_to_a_file_or_a_pipe(user):
    user.env.update(PROVIDER_ENV)
    assert user.fbplan("apply", "--local", "--yes", "--no-smoke", FULL).code == 0
    config = dotenv((user.cwd / ".fbplan" / "acme-app.env").read_text())

    piped = user.fbplan("output", "--local", "--format", "dotenv", "--show-secrets", FULL)
    assert piped.code == 0, piped.stderr
    shown = dotenv(piped.stdout)
    assert {k: v for k, v in shown.items() if k != "FB_S3_ENDPOINT" and "URL" not in k} == {
        k: v for k, v in config.items() if k != "FB_S3_ENDPOINT" and "URL" not in k
    }  # endpoints are those of this run's embedded emulator
    masked = user.fbplan("output", "--local", "--format", "dotenv", FULL)
    assert dotenv(masked.stdout)["FB_KEY_SECRET"] == "(sensitive)"
    assert "2 secret values are masked; --show-secrets shows them" in masked.stderr

    terminal, other_end = pty.openpty()
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "fbplan", "output", "--local", "--show-secrets", FULL],
            cwd=user.cwd,
            env=user.env,
            stdin=subprocess.DEVNULL,
            stdout=other_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(other_end)
        os.close(terminal)
    assert refused.returncode == 1
    assert "Error: --show-secrets prints secrets only to a file or a pipe" in refused.stderr


def test_an_unknown_output_name_is_one_sentence(user):
    user.env.update(PROVIDER_ENV)
    run = user.fbplan("output", "--local", FULL, "FB_NOPE")
    assert run.code == 1
    assert "Error: no output named FB_NOPE in the spec (outputs: FB_S3_ENDPOINT, " in run.stderr
    assert "Traceback" not in run.stderr
