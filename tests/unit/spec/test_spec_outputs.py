"""The `outputs` section: every problem at file:line:column, as `validate` reports it."""

from __future__ import annotations

import pytest

SPEC = """\
repos:
  app:
    storage_type: S3
    mode: NORMAL
    api_keys: {app-rw: {access: WRITE}}
    ai_api_keys: {app-ai: {ai_type: OPENAI}}
secrets:
  sink: {type: dotenv, path: secrets.env}
outputs:
  values:
    FB_S3_ENDPOINT: {bridge_endpoint: auto, repo: app}
    FB_KEY_ID: {key_id: repo.app.api_key.app-rw}
    FB_KEY_SECRET: {secret: repo.app.api_key.app-rw}
    FB_REPO_ID: {id: repo.app}
"""


def test_a_spec_with_outputs_and_targets_is_valid(write_spec, load) -> None:
    spec = load(
        write_spec(
            SPEC + "  targets:\n"
            "    app: {type: dotenv, path: app.env}\n"
            "    ci: {type: github_output, values: [FB_S3_ENDPOINT, FB_REPO_ID]}\n"
            "    vault: {type: aws_secretsmanager, name: acme/app, region: us-east-1}\n"
        )
    )
    assert list(spec.data["outputs"]["values"]) == [
        "FB_S3_ENDPOINT",
        "FB_KEY_ID",
        "FB_KEY_SECRET",
        "FB_REPO_ID",
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "    X: {secret: repo.app.api_key.app-rx}\n",
            "spec.yaml:17:17: outputs.values.X.secret: unknown repo key address "
            "'repo.app.api_key.app-rx'; did you mean 'repo.app.api_key.app-rw'?",
        ),
        (
            "    X: {id: repo.ap}\n",
            "spec.yaml:17:13: outputs.values.X.id: unknown address 'repo.ap'; "
            "did you mean 'repo.app'?",
        ),
        (
            "    X: {ai_base_url: auto, repo: apps}\n",
            "spec.yaml:17:34: outputs.values.X.repo: unknown repo 'apps'; did you mean 'app'?",
        ),
        (
            "    X: {bridge_endpoint: auto}\n",
            "spec.yaml:17:5: outputs.values.X.repo: required with bridge_endpoint: the repo it "
            "is for",
        ),
        (
            "    X: {value: a, model: b}\n",
            "spec.yaml:17:5: outputs.values.X: needs exactly one source of key_id, secret, id, "
            "bridge_endpoint, ai_base_url, model, value (has model, value)",
        ),
        (
            "    fb_key_id: {value: a}\n",
            "spec.yaml:17:5: outputs.values.fb_key_id: duplicate name: FB_KEY_ID is the same "
            "environment variable where names ignore case; rename one of them",
        ),
        (
            "    X: {value: '${env:HOME}'}\n",
            "spec.yaml:17:16: outputs.values.X.value: outputs take literals and ${var:NAME} "
            "only, never ${env:} or ${file:}: a secret read that way would reach targets that "
            "show it",
        ),
        (
            "    2X: {value: a}\n",
            "spec.yaml:17:5: outputs.values.2X: invalid output name: an environment variable "
            "name (letters, digits and '_', not starting with a digit, at most 128 characters)",
        ),
    ],
)
def test_value_problems(write_spec, problems, extra: str, expected: str) -> None:
    path = write_spec(SPEC + extra)
    assert problems(path, env={"HOME": "/home/x"}) == [f"{path.parent}/{expected}"]


def test_a_name_written_twice_is_a_duplicate_key_at_its_second_place(write_spec, problems):
    path = write_spec(SPEC + "    FB_REPO_ID: {id: repo.app}\n")
    assert problems(path) == [
        f"{path}:17:5: outputs.values.FB_REPO_ID: duplicate key; first defined at line 16"
    ]


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (
            "    ci: {type: github_output}\n",
            "spec.yaml:18:16: outputs.targets.ci.type: FB_KEY_SECRET is a secret, and a "
            "github_output target cannot keep one",
        ),
        (
            "    ci: {type: github_output, values: [FB_REPO_ID, FB_KEY_SECRET]}\n",
            "spec.yaml:18:52: outputs.targets.ci.values[1]: FB_KEY_SECRET is a secret, and a "
            "github_output target cannot keep one",
        ),
        (
            "    ci: {type: github_env, values: [FB_REPO_ID, FB_REPO_IDS, FB_REPO_ID]}\n",
            "spec.yaml:18:49: outputs.targets.ci.values[1]: unknown output 'FB_REPO_IDS'; did "
            "you mean 'FB_REPO_ID'?",
        ),
        (
            "    app: {type: dotenv, path: ./secrets.env}\n",
            "spec.yaml:18:31: outputs.targets.app.path: this is the secret sink's file; an "
            "application's outputs need a file of their own",
        ),
        (
            "    a: {type: json, path: app.json}\n    b: {type: json, path: ./app.json}\n",
            "spec.yaml:19:27: outputs.targets.b.path: duplicate file: target a writes it too",
        ),
        (
            "    a: {type: github_env, path: x.env}\n",
            "spec.yaml:18:27: outputs.targets.a.path: does not apply to a github_env target",
        ),
        (
            "    a: {type: aws_secretsmanager}\n",
            "spec.yaml:18:5: outputs.targets.a.name: required field is missing",
        ),
    ],
)
def test_target_problems(write_spec, problems, targets: str, expected: str) -> None:
    path = write_spec(SPEC + "  targets:\n" + targets)
    found = problems(path)
    assert any(p.startswith(f"{path.parent}/{expected}") for p in found), found


def test_a_duplicate_in_a_targets_values_points_at_the_second(write_spec, problems) -> None:
    path = write_spec(
        SPEC + "  targets:\n    ci: {type: github_env, values: [FB_KEY_ID, FB_KEY_ID]}\n"
    )
    assert problems(path) == [
        f"{path}:18:48: outputs.targets.ci.values[1]: duplicate name: already listed at values[0]"
    ]


def test_a_secret_output_needs_a_secret_sink(write_spec, problems) -> None:
    path = write_spec(SPEC.replace("secrets:\n  sink: {type: dotenv, path: secrets.env}\n", ""))
    assert f"{path}:13:29: outputs.values.FB_KEY_SECRET.secret: a secret in outputs is read " in (
        "\n".join(problems(path))
    )
