"""${env:}, ${file:} and ${var:} references, the $${ escape and the secret-field rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbplan.errors import SpecError
from fbplan.secrets.values import Secret
from fbplan.spec import load_spec
from fbplan.spec.interpolate import SECRET_RULE, is_secret_field

ENV = {"AWS_ACCESS_KEY_ID": "AKIAFROMENV", "AWS_SECRET_ACCESS_KEY": "aws-secret-from-env"}


def test_variables_from_the_spec(fixtures: Path) -> None:
    spec = load_spec(fixtures / "interpolation.yaml", env=ENV)
    assert spec.workspace_name == "acme-dev"
    assert spec.data["provider_keys"]["aws"]["region"] == "eu-west-1"
    assert spec.variables == {"env": "dev", "region": "eu-west-1"}


def test_cli_vars_override_the_spec(fixtures: Path) -> None:
    spec = load_spec(fixtures / "interpolation.yaml", env=ENV, cli_vars={"env": "prod", "x": "1"})
    assert spec.workspace_name == "acme-prod"
    assert spec.data["buckets"]["media"]["bucket"] == "media-${literal}-prod"
    assert spec.variables == {"env": "prod", "region": "eu-west-1", "x": "1"}


def test_variables_are_not_interpolated_themselves(write_spec) -> None:
    spec = load_spec(write_spec("variables: {a: '${env:HOME}', b: '$${x}'}\n"), env={})
    assert spec.data["variables"] == {"a": "${env:HOME}", "b": "$${x}"}


def test_unknown_variable(write_spec, problems) -> None:
    path = write_spec(
        "buckets:\n  media: {bucket: 'x-${var:nope}', storage_type: S3, region: r, "
        "key: k, secret: '${env:AWS_SECRET_ACCESS_KEY}'}\n"
    )
    assert problems(path, env=ENV) == [
        f"{path}:4:19: buckets.media.bucket: unknown variable 'nope'; "
        "declare it under variables or pass --var nope=VALUE"
    ]


def test_env_values_are_resolved_and_secrets_wrapped(fixtures: Path) -> None:
    spec = load_spec(fixtures / "interpolation.yaml", env=ENV)
    aws = spec.data["provider_keys"]["aws"]
    assert aws["key"] == "AKIAFROMENV"  # not a secret field: plain text
    assert isinstance(aws["secret"], Secret)
    assert aws["secret"].origin == "env:AWS_SECRET_ACCESS_KEY"
    assert aws["secret"].reveal() == "aws-secret-from-env"
    assert str(aws["secret"]) == "(sensitive)"


def test_unset_env_var_is_a_problem_at_its_line(fixtures: Path, problems) -> None:
    path = fixtures / "interpolation.yaml"
    assert problems(path, env={"AWS_ACCESS_KEY_ID": "x"}) == [
        f"{path}:8:13: provider_keys.aws.secret: "
        "environment variable 'AWS_SECRET_ACCESS_KEY' is not set"
    ]


def test_unset_env_var_is_a_warning_when_not_required(fixtures: Path) -> None:
    path = fixtures / "interpolation.yaml"
    spec = load_spec(path, env={}, require_env=False)
    assert [str(w) for w in spec.warnings] == [
        f"{path}:7:10: provider_keys.aws.key: environment variable 'AWS_ACCESS_KEY_ID' "
        "is not set; left empty",
        f"{path}:8:13: provider_keys.aws.secret: environment variable 'AWS_SECRET_ACCESS_KEY' "
        "is not set; left empty",
    ]
    assert spec.data["provider_keys"]["aws"]["key"] == ""
    secret = spec.data["provider_keys"]["aws"]["secret"]
    assert isinstance(secret, Secret) and secret.reveal() == ""
    assert spec.unresolved == {("provider_keys", "aws", "key"), ("provider_keys", "aws", "secret")}


def test_missing_file_is_a_warning_when_not_required(write_spec) -> None:
    path = write_spec(
        "buckets:\n"
        "  b: {bucket: x, storage_type: S3, region: r, key: k, secret: '${file:nope.txt}'}\n"
    )
    spec = load_spec(path, require_env=False)
    assert [w.message for w in spec.warnings] == [
        "cannot read file 'nope.txt': No such file or directory; left empty"
    ]


def test_a_file_referenced_by_several_fields_is_reported_at_each(write_spec) -> None:
    path = write_spec(
        "buckets:\n"
        "  a: {bucket: x, storage_type: S3, region: r, key: k, secret: '${file:nope.txt}'}\n"
        "  b: {bucket: y, storage_type: S3, region: r, key: k, secret: '${file:nope.txt}'}\n"
        "  c: {bucket: z, storage_type: S3, region: r, key: '${file:k.txt}', secret: '${file:k.txt}'}\n"
    )
    (path.parent / "k.txt").write_text("kk\n")
    spec = load_spec(path, require_env=False)
    assert [str(w) for w in spec.warnings] == [
        f"{path}:4:63: buckets.a.secret: cannot read file 'nope.txt': No such file or "
        "directory; left empty",
        f"{path}:5:63: buckets.b.secret: cannot read file 'nope.txt': No such file or "
        "directory; left empty",
    ]
    assert spec.data["buckets"]["c"]["key"] == "kk"
    assert spec.data["buckets"]["c"]["secret"].reveal() == "kk"


def test_unresolved_values_skip_checks_that_need_them(write_spec) -> None:
    path = write_spec(
        """\
        ai_llms:
          ai: {ai_type: OPENAI, endpoint: '${env:LLM_URL}', provider_key: '${env:PK}'}
        """
    )
    spec = load_spec(path, env={}, require_env=False)
    assert len(spec.warnings) == 2
    assert spec.data["ai_llms"]["ai"]["endpoint"] == ""


def test_file_references_are_relative_to_the_spec(fixtures: Path) -> None:
    spec = load_spec(fixtures / "interpolation.yaml", env=ENV)
    media = spec.data["buckets"]["media"]
    assert media["key"] == "key-id-from-file\n"  # exactly one trailing newline stripped
    assert media["secret"].reveal() == "gcs-private-key-material"
    assert media["secret"].origin == "file:secrets/gcs.key"


def test_file_reference_crlf_and_absolute(tmp_path: Path, write_spec) -> None:
    (tmp_path / "abs.txt").write_bytes(b"value\r\n")
    path = write_spec(f"version: 1\nworkspace: '${{file:{tmp_path / 'abs.txt'}}}'\n", header=False)
    assert load_spec(path).workspace_name == "value"


def test_unreadable_file_is_a_problem(write_spec, problems) -> None:
    path = write_spec("version: 1\nworkspace: '${file:missing.txt}'\n", header=False)
    assert problems(path) == [
        f"{path}:2:12: workspace: cannot read file 'missing.txt': No such file or directory"
    ]


def test_dollar_dollar_brace_escapes(write_spec) -> None:
    path = write_spec(
        "variables: {v: x}\npolicies:\n  p: {scope: workspace, risk: LOW, action: log, "
        "content: 'say $${var:v} and ${var:v} and $$ and $'}\n"
    )
    assert load_spec(path).data["policies"]["p"]["content"] == "say ${var:v} and x and $$ and $"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "${nope}",
            "unknown reference '${nope}'; use ${env:NAME}, ${file:PATH} or ${var:NAME}, "
            "or $${ for a literal ${",
        ),
        (
            "${ENV:X}",
            "unknown reference '${ENV:X}'; use ${env:NAME}, ${file:PATH} or "
            "${var:NAME}, or $${ for a literal ${",
        ),
        (
            "a ${env:X",
            "unclosed '${'; use ${env:NAME}, ${file:PATH} or ${var:NAME}, or $${ for a literal ${",
        ),
        ("${env:1BAD}", "'1BAD' is not a valid environment variable name"),
    ],
)
def test_malformed_references(write_spec, messages, text: str, message: str) -> None:
    path = write_spec(
        f"policies:\n  p: {{scope: workspace, risk: LOW, action: log, content: '{text}'}}\n"
    )
    assert messages(path, env={}) == [f"policies.p.content: {message}"]


def test_secret_fields_reject_literals_vars_and_mixtures(fixtures: Path, problems) -> None:
    path = fixtures / "secret-literal.yaml"
    env = {"OPENAI_API_KEY": "sk-openai-value"}
    assert problems(path, env=env) == [
        f"{path}:5:43: provider_keys.aws.secret: {SECRET_RULE}",
        f"{path}:7:39: ai_llms.from-var.secret: {SECRET_RULE}",
        f"{path}:8:38: ai_llms.mixture.secret: {SECRET_RULE}",
        f"{path}:9:35: ai_llms.escaped.key: {SECRET_RULE}",
    ]


@pytest.mark.parametrize("value", ["${nope:X}", "sk-${nope:X}", "${env:A}${nope:X}"])
def test_an_unknown_reference_source_in_a_secret_field_is_named(
    write_spec, messages, value: str
) -> None:
    path = write_spec(
        f'buckets:\n  b: {{bucket: x, storage_type: S3, region: r, key: k, secret: "{value}"}}\n'
    )
    assert messages(path, env={"A": "a"}) == [
        "buckets.b.secret: unknown reference '${nope:X}'; secret fields take ${env:NAME} "
        "or ${file:PATH}"
    ]


@pytest.mark.parametrize(
    "path",
    [
        ("provider_keys", "x", "secret"),
        ("buckets", "x", "secret"),
        ("ai_llms", "x", "key"),
        ("ai_llms", "x", "secret"),
    ],
)
def test_secret_fields(path: tuple[str, ...]) -> None:
    assert is_secret_field(path)


@pytest.mark.parametrize(
    "path",
    [("provider_keys", "x", "key"), ("buckets", "x", "key"), ("secrets", "sink", "secret"), ()],
)
def test_not_secret_fields(path: tuple[str, ...]) -> None:
    assert not is_secret_field(path)


def test_secret_field_must_be_text(write_spec, messages) -> None:
    path = write_spec("provider_keys:\n  k: {provider: AWS, key: a, secret: 12345678}\n")
    assert messages(path) == [f"provider_keys.k.secret: {SECRET_RULE}"]


def test_no_message_contains_a_secret_or_env_value(write_spec) -> None:
    env = {
        "SECRET_A": "value-of-secret-a",
        "PK_NAME": "env-provider-key-name",
        "BUCKET": "env-bucket-name",
        "URL": "not-a-url-from-env",
        "TYPE": "s3-from-env",
    }
    path = write_spec(
        """\
        provider_keys:
          pk: {provider: AWS, key: "${env:SECRET_A}", secret: literal-secret-value}
        buckets:
          b: {bucket: x, storage_type: "${env:TYPE}", provider_key: "${env:PK_NAME}",
              secret: "${env:SECRET_A}"}
        ai_llms:
          ai: {ai_type: OPENAI, endpoint: "${env:URL}", secret: "x${env:SECRET_A}"}
        repos:
          r:
            storage_type: S3
            mode: MIRROR
            buckets: [{bucket: "${env:BUCKET}", folder: f}]
        """
    )
    with pytest.raises(SpecError) as caught:
        load_spec(path, env=env)
    text = str(caught.value) + "\n".join(str(p) for p in caught.value.problems)
    assert len(caught.value.problems) >= 6
    for value in [*env.values(), "literal-secret-value"]:
        assert value not in text
    assert "unknown provider_key (a value from the environment or a file)" in text
