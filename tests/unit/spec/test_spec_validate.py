"""Schema errors as one-line problems, and the rules beyond the schema (references, repos)."""

from __future__ import annotations

import pytest

PROVIDER = "provider_keys:\n  aws: {provider: AWS, key: k, secret: '${env:S}'}\n"
# What the API reference requires of every bucket that names no provider key.
CREDENTIALS = "region: us-east-1, key: k, secret: '${env:S}'"
BUCKETS = (
    f"buckets:\n  media: {{bucket: m, storage_type: S3, {CREDENTIALS}}}\n"
    f"  logs: {{bucket: l, storage_type: S3, {CREDENTIALS}}}\n"
)
REPO = """\
repos:
  app:
    storage_type: S3
    mode: NORMAL
    api_keys: {app-rw: {access: WRITE}}
    ai_api_keys: {app-ai: {ai_type: OPENAI}}
"""
ENV = {"S": "secret-value"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "buckets:\n  b: {bucket: x, storage_type: S3, region: r, provider_key: aws-prd}\n",
            "buckets.b.provider_key: unknown provider_key 'aws-prd'; did you mean 'aws'?",
        ),
        (
            "ai_llms:\n  ai: {ai_type: OPENAI, provider_key: gcp}\n",
            "ai_llms.ai.provider_key: unknown provider_key 'gcp'",
        ),
        (
            BUCKETS + REPO + "    buckets: [{bucket: medai, folder: m}]\n",
            "repos.app.buckets[0].bucket: unknown bucket 'medai'; did you mean 'media'?",
        ),
        (
            REPO + "    ai_llms: [openai]\n",
            "repos.app.ai_llms[0]: unknown ai_llm 'openai'; no ai_llm is declared",
        ),
        (
            REPO + "policies:\n  p: {scope: 'repo:ap', risk: LOW, action: log, content: c}\n",
            "policies.p.scope: unknown repo 'ap'; did you mean 'app'?",
        ),
        (
            REPO + "smoke:\n  storage: [{repo: apps, api_key: app-rw}]\n",
            "smoke.storage[0].repo: unknown repo 'apps'; did you mean 'app'?",
        ),
        (
            REPO + "smoke:\n  storage: [{repo: app, api_key: app-ro}]\n",
            "smoke.storage[0].api_key: unknown api_key 'app-ro' in repo 'app'; "
            "did you mean 'app-rw'?",
        ),
        (
            REPO + "smoke:\n  ai: [{repo: app, ai_api_key: other, model: m}]\n",
            "smoke.ai[0].ai_api_key: unknown ai_api_key 'other' in repo 'app'",
        ),
    ],
)
def test_reference_errors(write_spec, messages, text: str, expected: str) -> None:
    path = write_spec(PROVIDER + text)
    assert messages(path, env=ENV) == [expected]


def test_reference_error_location(write_spec, problems) -> None:
    path = write_spec(
        BUCKETS + REPO + "    buckets: [{bucket: media, folder: a}, {bucket: nope, folder: b}]\n"
    )
    (problem,) = problems(path, env=ENV)
    assert problem.startswith(f"{path}:12:52: repos.app.buckets[1].bucket: unknown bucket 'nope'")


def test_provider_key_excludes_inline_credentials(write_spec, messages) -> None:
    path = write_spec(
        PROVIDER
        + "buckets:\n  b: {bucket: x, storage_type: S3, region: r, provider_key: aws, key: k}\n"
    )
    assert messages(path, env=ENV) == [
        "buckets.b.provider_key: provider_key cannot be combined with key or secret; "
        "use one or the other"
    ]


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        ("secret: '${env:S}'", "buckets.b.key: required (the access key id)"),
        ("key: k", "buckets.b.secret: required (the secret key)"),
    ],
)
def test_bucket_key_and_secret_go_together(write_spec, messages, credential, expected) -> None:
    path = write_spec(f"buckets:\n  b: {{bucket: x, storage_type: S3, region: r, {credential}}}\n")
    assert messages(path, env=ENV) == [f"{expected} unless provider_key names a provider key"]


@pytest.mark.parametrize(
    "bucket",
    [
        "{bucket: x, storage_type: S3, key: k, secret: '${env:S}'}",
        "{bucket: x, storage_type: S3, provider_key: aws}",
    ],
)
def test_a_bucket_without_a_region_is_refused_at_its_line(write_spec, problems, bucket) -> None:
    path = write_spec(PROVIDER + f"buckets:\n  b: {bucket}\n")
    assert problems(path, env=ENV) == [f"{path}:6:3: buckets.b.region: required field is missing"]


def test_a_bucket_without_credentials_is_refused_at_its_line(write_spec, problems) -> None:
    path = write_spec("buckets:\n  b: {bucket: x, storage_type: S3, region: us-east-1}\n")
    assert problems(path, env=ENV) == [
        f"{path}:4:3: buckets.b.key: required (the access key id) unless provider_key names "
        "a provider key",
        f"{path}:4:3: buckets.b.secret: required (the secret key) unless provider_key names "
        "a provider key",
    ]


ENDPOINT = "endpoint: 'https://llm.example/v1'"
TOKEN = "secret: '${env:S}'"
MISSING_ENDPOINT = "ai_llms.ai.endpoint: required (the provider's base URL)"
MISSING_TOKEN = "ai_llms.ai.secret: required (the provider's API token)"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ("", [MISSING_ENDPOINT, MISSING_TOKEN]),
        (f", {ENDPOINT}", [MISSING_TOKEN]),
        (f", {TOKEN}", [MISSING_ENDPOINT]),
    ],
)
def test_an_ai_llm_needs_endpoint_and_token_or_a_provider_key(
    write_spec, problems, fields, missing
) -> None:
    path = write_spec(f"ai_llms:\n  ai: {{ai_type: OPENAI{fields}}}\n")
    assert problems(path, env=ENV) == [
        f"{path}:4:3: {message} unless provider_key names a provider key" for message in missing
    ]


def test_a_provider_key_stands_for_the_inline_credentials(write_spec, load) -> None:
    path = write_spec(
        PROVIDER
        + "buckets:\n  b: {bucket: x, storage_type: S3, region: us-east-1, provider_key: aws}\n"
        + "ai_llms:\n  ai: {ai_type: OPENAI, provider_key: aws}\n"
    )
    data = load(path, env=ENV).data
    assert data["buckets"]["b"]["provider_key"] == "aws"
    assert data["ai_llms"]["ai"] == {"ai_type": "OPENAI", "provider_key": "aws"}


def test_inline_credentials_need_no_provider_key(write_spec, load) -> None:
    path = write_spec(
        f"buckets:\n  b: {{bucket: x, storage_type: S3, {CREDENTIALS}}}\n"
        f"ai_llms:\n  ai: {{ai_type: OPENAI, {ENDPOINT}, {TOKEN}}}\n"
    )
    data = load(path, env=ENV).data
    assert data["buckets"]["b"]["secret"].reveal() == ENV["S"]
    assert data["ai_llms"]["ai"]["endpoint"] == "https://llm.example/v1"


def test_ai_llm_provider_key_excludes_secret(write_spec, messages) -> None:
    path = write_spec(
        PROVIDER + "ai_llms:\n  ai: {ai_type: OPENAI, provider_key: aws, secret: '${env:S}'}\n"
    )
    assert messages(path, env=ENV) == [
        "ai_llms.ai.provider_key: provider_key cannot be combined with key or secret; "
        "use one or the other"
    ]


def test_same_bucket_attached_twice(write_spec, messages) -> None:
    path = write_spec(
        BUCKETS + REPO + "    buckets: [{bucket: media, folder: a}, {bucket: media, folder: b}]\n"
    )
    assert messages(path, env=ENV) == [
        "repos.app.buckets[1].bucket: this bucket is already attached to the repo at buckets[0]"
    ]


def test_same_ai_llm_attached_twice(write_spec, messages) -> None:
    llms = "ai_llms:\n  ai: {ai_type: OPENAI, provider_key: aws}\n"
    path = write_spec(PROVIDER + llms + REPO + "    ai_llms: [ai, ai]\n")
    assert messages(path, env=ENV) == [
        "repos.app.ai_llms[1]: this ai_llm is already attached at ai_llms[0]"
    ]


def test_normal_repo_folders_must_differ(write_spec, messages) -> None:
    path = write_spec(
        BUCKETS + REPO + "    buckets: [{bucket: media, folder: a}, {bucket: logs, folder: a}]\n"
    )
    assert messages(path, env=ENV) == [
        "repos.app.buckets[1].folder: folder already used by buckets[0]; "
        "each bucket of a NORMAL repo needs its own folder"
    ]


@pytest.mark.parametrize(("masters", "count"), [((False, False), 0), ((True, True), 2)])
def test_mirror_repo_needs_exactly_one_master(write_spec, problems, masters, count) -> None:
    attachments = ", ".join(
        f"{{bucket: {name}, folder: f, master: {str(master).lower()}}}"
        for name, master in zip(("media", "logs"), masters, strict=True)
    )
    repo = REPO.replace("NORMAL", "MIRROR") + f"    buckets: [{attachments}]\n"
    path = write_spec(BUCKETS + repo)
    assert problems(path, env=ENV) == [
        f"{path}:12:5: repos.app.buckets: a MIRROR repo needs exactly one bucket with "
        f"master: true (found {count})"
    ]


def test_mirror_repo_with_one_master_shares_folders(write_spec, load) -> None:
    repo = REPO.replace("NORMAL", "MIRROR")
    repo += "    buckets: [{bucket: media, folder: f, master: true}, {bucket: logs, folder: f}]\n"
    assert load(write_spec(BUCKETS + repo), env=ENV).data["repos"]["app"]["mode"] == "MIRROR"


def test_mirror_buckets_are_exclusive(write_spec, messages) -> None:
    repo = (
        REPO.replace("NORMAL", "MIRROR")
        + "    buckets: [{bucket: media, folder: f, master: true}]\n"
    )
    other = "  web:\n    storage_type: S3\n    mode: NORMAL\n"
    other += "    buckets: [{bucket: media, folder: w}]\n"
    path = write_spec(BUCKETS + repo + other)
    assert messages(path, env=ENV) == [
        "repos.web.buckets[0].bucket: bucket 'media' belongs to MIRROR repo 'app' "
        "and cannot be attached to another repo"
    ]


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        ("{type: dotenv}", ["secrets.sink.path: required field is missing"]),
        ("{type: aws_secretsmanager}", ["secrets.sink.prefix: required field is missing"]),
        (
            "{type: json, path: s.json, prefix: p}",
            ["secrets.sink.prefix: does not apply to a json sink"],
        ),
        ("{type: vault}", ["secrets.sink.type: must be one of dotenv, json, aws_secretsmanager"]),
        ("{type: aws_secretsmanager, prefix: fb/acme, region: us-east-1}", []),
    ],
)
def test_secret_sink(write_spec, messages, load, sink: str, expected: list[str]) -> None:
    path = write_spec(f"secrets:\n  sink: {sink}\n")
    if expected:
        assert messages(path) == expected
    else:
        load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nworkspace: a\n", "version: must be 1, the spec version this fbplan reads"),
        ("version: '1'\nworkspace: a\n", "version: expected an integer, got a string"),
        ("version: 1\nworkspace: [a]\n", "workspace: expected a string or a mapping, got a list"),
        ("version: 1\nworkspace: {nme: a}\n", "workspace.nme: unknown field; did you mean 'name'?"),
        ("version: 1\nworkspace: {protect: true}\n", "workspace.name: required field is missing"),
        ("version: 1\nworkspace: ''\n", "workspace: must not be empty"),
        (
            "version: 1\nworkspace: a\nprune: yes-please\n",
            "prune: expected true or false or a mapping, got a string",
        ),
        (
            "version: 1\nworkspace: a\nprune: {repo: true}\n",
            "prune.repo: unknown field; did you mean 'repos'?",
        ),
        ("version: 1\nworkspace: a\nbuckets: []\n", "buckets: expected a mapping, got a list"),
        (
            "version: 1\nworkspace: a\nbuckets:\n  b.c: {bucket: x, storage_type: S3}\n",
            "buckets.b.c: invalid name: names are 1 to 63 letters, digits, '_' or '-', "
            "starting with a letter or digit (no dots)",
        ),
        (
            "version: 1\nworkspace: a\nbuckets:\n  b: {bucket: x, storage_type: S3, region: no}\n",
            "buckets.b.region: expected a string, got true/false "
            "(quote the value to make it a string)",
        ),
        (
            "version: 1\nworkspace: a\nbuckets:\n  b:\n",
            "buckets.b: expected a mapping, got nothing (null)",
        ),
        (
            "version: 1\nworkspace: a\nprovider_keys:\n"
            "  p: {provider: aws, key: k, secret: '${env:S}'}\n",
            "provider_keys.p.provider: must be an uppercase provider name such as AWS, GCP, AZURE, "
            "OPENAI or ANTHROPIC",
        ),
        (
            "version: 1\nworkspace: a\nai_llms:\n  a: {ai_type: openai, endpoint: 'x.com'}\n",
            "ai_llms.a.ai_type: must be one of OPENAI, GOOGLE, ANTHROPIC, AWS, OTHER; "
            "did you mean 'OPENAI'?",
        ),
        (
            "version: 1\nworkspace: a\nsmoke:\n"
            "  storage: [{repo: r, api_key: k, endpoint: s3.x}]\n",
            "smoke.storage[0].endpoint: must be 'auto' or an http:// or https:// URL",
        ),
    ],
)
def test_schema_messages(write_spec, messages, text: str, expected: str) -> None:
    path = write_spec(text, header=False)
    assert expected in messages(path, env=ENV)


def test_provider_names_beyond_the_known_ones_are_accepted(write_spec, load) -> None:
    path = write_spec("provider_keys:\n  s: {provider: STORJ_DCS, key: k, secret: '${env:S}'}\n")
    assert load(path, env=ENV).data["provider_keys"]["s"]["provider"] == "STORJ_DCS"


DOTENV = "secrets:\n  sink: {type: dotenv, path: s.env}\n"
COLLIDING_REPOS = """\
repos:
  app:
    {storage_type: S3, mode: NORMAL, ai_api_keys: {x: {ai_type: OPENAI}}}
  app-ai:
    storage_type: S3
    mode: NORMAL
    api_keys:
      x: {access: READ}
      app-rw: {access: WRITE}
      app_rw: {access: WRITE}
"""


def test_repo_keys_sharing_a_dotenv_variable_are_refused(write_spec, problems) -> None:
    path = write_spec(COLLIDING_REPOS + DOTENV)
    assert problems(path) == [
        f"{path}:10:7: repos.app-ai.api_keys.x: repo.app-ai.api_key.x and repo.app.ai_api_key.x "
        "would both be kept in the dotenv variables APP_AI_API_KEY_X_KEY_ID and "
        "APP_AI_API_KEY_X_SECRET of the secret sink; rename one of them",
        f"{path}:12:7: repos.app-ai.api_keys.app_rw: repo.app-ai.api_key.app_rw and "
        "repo.app-ai.api_key.app-rw would both be kept in the dotenv variables "
        "APP_AI_API_KEY_APP_RW_KEY_ID and APP_AI_API_KEY_APP_RW_SECRET of the secret sink; "
        "rename one of them",
    ]


@pytest.mark.parametrize("sink", ["", "secrets:\n  sink: {type: json, path: s.json}\n"])
def test_such_keys_are_fine_where_the_sink_names_them_by_address(write_spec, load, sink) -> None:
    path = write_spec(COLLIDING_REPOS + sink)
    assert set(load(path, env=ENV).data["repos"]) == {"app", "app-ai"}


def test_a_provider_bucket_declared_twice_is_refused_at_the_second_entry(
    write_spec, problems
) -> None:
    path = write_spec(
        "buckets:\n"
        f"  media: {{bucket: acme-data, storage_type: S3, {CREDENTIALS}}}\n"
        f"  logs: {{bucket: acme-logs, storage_type: S3, {CREDENTIALS}}}\n"
        f"  backup: {{bucket: acme-data, storage_type: S3, {CREDENTIALS}}}\n"
    )
    assert problems(path, env=ENV) == [
        f"{path}:6:20: buckets.backup.bucket: the provider bucket 'acme-data' is already "
        f"declared by buckets.media at {path}:4:19"
    ]


def test_a_provider_bucket_declared_in_two_files_of_a_folder_names_both_places(
    tmp_path, problems
) -> None:
    (tmp_path / "main.yaml").write_text("version: 1\nworkspace: w\n")
    (tmp_path / "a.yaml").write_text(
        f"buckets:\n  media: {{bucket: acme-data, storage_type: S3, {CREDENTIALS}}}\n"
    )
    (tmp_path / "b.yaml").write_text(
        f"buckets:\n  backup: {{bucket: acme-data, storage_type: S3, {CREDENTIALS}}}\n"
    )
    assert problems(tmp_path, env=ENV) == [
        f"{tmp_path / 'b.yaml'}:2:20: buckets.backup.bucket: the provider bucket 'acme-data' is "
        f"already declared by buckets.media at {tmp_path / 'a.yaml'}:2:19"
    ]


def test_a_duplicate_provider_bucket_from_the_environment_is_not_shown(
    write_spec, messages
) -> None:
    path = write_spec(
        "buckets:\n"
        f"  media: {{bucket: '${{env:B}}', storage_type: S3, {CREDENTIALS}}}\n"
        f"  backup: {{bucket: '${{env:B}}', storage_type: S3, {CREDENTIALS}}}\n"
    )
    assert messages(path, env={**ENV, "B": "private-bucket-name"}) == [
        "buckets.backup.bucket: the provider bucket (a value from the environment or a file) "
        f"is already declared by buckets.media at {path}:4:19"
    ]


@pytest.mark.parametrize("access", ["WRITE", "ADMIN"])
def test_a_storage_smoke_key_with_write_access_is_accepted(write_spec, load, access) -> None:
    repo = REPO.replace("app-rw: {access: WRITE}", f"app-rw: {{access: {access}}}")
    path = write_spec(repo + "smoke:\n  storage: [{repo: app, api_key: app-rw}]\n")
    assert load(path).data["smoke"]["storage"][0]["api_key"] == "app-rw"


def test_a_read_key_as_a_storage_smoke_key_is_refused(write_spec, problems) -> None:
    repo = REPO.replace("api_keys: {app-rw: {access: WRITE}}", "api_keys: {app-ro: {access: READ}}")
    path = write_spec(repo + "smoke:\n  storage: [{repo: app, api_key: app-ro}]\n")
    assert problems(path) == [
        f"{path}:10:34: smoke.storage[0].api_key: the key 'app-ro' has READ access, but smoke "
        "writes an object; the key needs WRITE or ADMIN access"
    ]


def test_an_ai_smoke_check_without_a_model_is_valid(write_spec, load) -> None:
    path = write_spec(REPO + "smoke:\n  ai: [{repo: app, ai_api_key: app-ai}]\n")
    assert "model" not in load(path).data["smoke"]["ai"][0]
