"""Secret sinks: dotenv and JSON files (0600, merged atomically, entries kept) and AWS
Secrets Manager (through moto)."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from moto import mock_aws

from fbplan.errors import ConfigError
from fbplan.model import Resource
from fbplan.secrets.sinks import (
    AwsSecretsManagerSink,
    DotenvSink,
    JsonSink,
    Owner,
    env_prefix,
    foreign_entries,
    holds_secret_of,
    sink_from_spec,
)
from fbplan.secrets.values import MASK, redact

KEY = "repo.app.api_key.app-rw"
VALUES = {"key": "FBKEYID123", "secret": "sink-secret-value-8c1f"}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- dotenv ------------------------------------------------------------------------------


def test_env_prefix_drops_the_repo_prefix_and_uppercases() -> None:
    assert env_prefix(KEY) == "APP_API_KEY_APP_RW"
    assert env_prefix("repo.web.ai_api_key.chat") == "WEB_AI_API_KEY_CHAT"


def test_dotenv_sink_writes_a_new_file_0600_in_a_new_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secrets.env"
    DotenvSink(path).write(KEY, VALUES)
    assert mode(path) == 0o600
    assert path.read_text() == (
        'APP_API_KEY_APP_RW_KEY_ID="FBKEYID123"\nAPP_API_KEY_APP_RW_SECRET="sink-secret-value-8c1f"\n'
    )


def test_dotenv_sink_keeps_existing_entries_and_tightens_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text('DATABASE_URL="postgres://u:p@db/x?a=b"\nAPP_API_KEY_APP_RW_SECRET="old"\n')
    path.chmod(0o644)
    sink = DotenvSink(path)
    sink.write(KEY, VALUES)
    text = path.read_text()
    assert 'DATABASE_URL="postgres://u:p@db/x?a=b"' in text
    assert '"old"' not in text and 'APP_API_KEY_APP_RW_SECRET="sink-secret-value-8c1f"' in text
    assert mode(path) == 0o600
    assert sink.read(KEY) == VALUES
    assert sink.read("repo.app.api_key.other") is None


def test_dotenv_sink_keeps_other_lines_exactly_as_written(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    existing = "# app settings\nexport DEBUG=1\n\nGREETING='hello world'\nPLAIN=x # note\n"
    path.write_text(existing)
    DotenvSink(path).write(KEY, VALUES)
    DotenvSink(path).write(KEY, {"key": "ROTATED", "secret": "rotated-secret-77"})
    text = path.read_text()
    assert text.startswith(existing)
    assert text.count("APP_API_KEY_APP_RW_SECRET=") == 1
    assert DotenvSink(path).read(KEY) == {"key": "ROTATED", "secret": "rotated-secret-77"}


def test_dotenv_sink_leaves_the_old_file_whole_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.env"
    path.write_text('KEEP="me"\n')

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(
        ConfigError, match=f"cannot write the secret sink, the dotenv file {path}: disk full"
    ):
        DotenvSink(path).write(KEY, VALUES)
    assert path.read_text() == 'KEEP="me"\n'
    assert leftovers(tmp_path) == []


def test_dotenv_sink_loses_no_entry_under_concurrent_writes(tmp_path: Path) -> None:
    sink = DotenvSink(tmp_path / "secrets.env")
    start = threading.Barrier(12, timeout=10)

    def write(index: int) -> None:
        start.wait()
        sink.write(f"repo.app.api_key.k{index}", {"key": f"id{index}", "secret": f"s{index}"})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert all(
        sink.read(f"repo.app.api_key.k{i}") == {"key": f"id{i}", "secret": f"s{i}"}
        for i in range(12)
    )


def test_a_secret_read_back_from_a_sink_is_redacted_in_output(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text('APP_API_KEY_APP_RW_SECRET="read-back-secret-5e5e"\n')
    DotenvSink(path).read(KEY)
    assert redact("value: read-back-secret-5e5e") == f"value: {MASK}"


# -- JSON --------------------------------------------------------------------------------


def test_json_sink_merges_by_address_and_writes_0600(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"repo.app.ai_api_key.chat": {"key": "k", "secret": "s"}}))
    sink = JsonSink(path)
    sink.write(KEY, VALUES)
    assert json.loads(path.read_text()) == {
        "repo.app.ai_api_key.chat": {"key": "k", "secret": "s"},
        KEY: VALUES,
    }
    assert mode(path) == 0o600
    assert sink.read(KEY) == VALUES and sink.read("repo.x.api_key.y") is None
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_json_sink_refuses_to_overwrite_a_file_it_cannot_read(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=str(path)):
        JsonSink(path).write(KEY, VALUES)
    assert path.read_text() == content


@pytest.mark.parametrize(("sink_type", "what"), [(DotenvSink, "dotenv"), (JsonSink, "JSON")])
def test_a_file_sink_that_is_a_folder_is_one_sentence_naming_it(
    tmp_path: Path, sink_type: type, what: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    sink = sink_type(folder)
    for verb, use in (("read", lambda: sink.read(KEY)), ("write", lambda: sink.write(KEY, VALUES))):
        with pytest.raises(ConfigError) as caught:
            use()
        assert str(caught.value) == (
            f"cannot {verb} the secret sink, the {what} file {folder}: Is a directory "
            "(secrets.sink.path must name a file, not a folder)"
        )
    assert list(folder.iterdir()) == []


def test_a_file_sink_below_a_file_names_the_os_reason_when_written(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder")
    sink = JsonSink(tmp_path / "plain" / "secrets.json")
    assert sink.read(KEY) is None  # nothing there yet: the write says why it cannot be made
    with pytest.raises(ConfigError) as caught:
        sink.write(KEY, VALUES)
    assert str(caught.value) == (
        f"cannot write the secret sink, the JSON file {sink.path}: File exists: {tmp_path / 'plain'}"
    )


def test_planning_over_a_sink_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    sink = sink_from_spec({"type": "dotenv", "path": "out"}, tmp_path)
    holds = holds_secret_of(sink)
    assert holds is not None
    live = Resource("repo_api_key", KEY, "app-rw", parent="repo.app", extra={"key_id": "K"})
    with pytest.raises(ConfigError, match=f"the dotenv file {tmp_path / 'out'}: Is a directory"):
        holds(live)


# -- owners: which backend and workspace an entry belongs to ------------------------------

PROD = Owner("https://backend.flashback.tech", "acme")
LOCAL = Owner("local", "acme")


@pytest.mark.parametrize("kind", ["dotenv", "json"])
def test_an_entry_records_its_owner_and_counts_only_for_that_owner(
    tmp_path: Path, kind: str
) -> None:
    config = {"type": kind, "path": "secrets"}
    sink_from_spec(config, tmp_path, PROD).write(KEY, VALUES)  # type: ignore[union-attr]
    live = Resource(
        "repo_api_key", KEY, "app-rw", parent="repo.app", extra={"key_id": "FBKEYID123"}
    )
    for owner, held in ((PROD, True), (LOCAL, False), (Owner(PROD.backend, "other"), False)):
        holds = holds_secret_of(sink_from_spec(config, tmp_path, owner))
        assert holds is not None and holds(live) is held, owner
    other_key = Resource("repo_api_key", KEY, "app-rw", extra={"key_id": "ANOTHER"})
    assert not holds_secret_of(sink_from_spec(config, tmp_path, PROD))(other_key)  # type: ignore[misc]


@pytest.mark.parametrize("kind", ["dotenv", "json"])
def test_overwriting_another_backends_entry_is_named_with_the_way_out(
    tmp_path: Path, kind: str
) -> None:
    config = {"type": kind, "path": "secrets"}
    sink_from_spec(config, tmp_path, PROD).write(KEY, VALUES)  # type: ignore[union-attr]
    local = sink_from_spec(config, tmp_path, LOCAL)
    assert local is not None
    [(address, problem)] = foreign_entries(local, [KEY, "repo.app.api_key.unknown"]).items()
    assert address == KEY
    assert f"holds the secret of {KEY} for workspace acme on https://backend.flashback.tech" in (
        problem
    )
    assert "for workspace acme on the embedded emulator (--local)" in problem
    assert "give each environment its own sink path" in problem
    assert foreign_entries(sink_from_spec(config, tmp_path, PROD), [KEY]) == {}  # type: ignore[arg-type]


def test_an_entry_written_before_owners_were_recorded_belongs_to_anyone(tmp_path: Path) -> None:
    JsonSink(tmp_path / "s.json").write(KEY, VALUES)
    sink = JsonSink(tmp_path / "s.json", LOCAL)
    assert foreign_entries(sink, [KEY]) == {}
    live = Resource("repo_api_key", KEY, "app-rw", extra={"key_id": "FBKEYID123"})
    assert holds_secret_of(sink)(live)  # type: ignore[misc]


# -- AWS Secrets Manager -------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def stored(name: str) -> dict[str, str]:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    return json.loads(client.get_secret_value(SecretId=name)["SecretString"])


def test_aws_sink_creates_one_secret_per_address(aws: None) -> None:
    sink = AwsSecretsManagerSink("fbplan/acme/", "eu-west-1")
    sink.write(KEY, VALUES)
    assert stored(f"fbplan/acme/{KEY}") == VALUES
    assert sink.read(KEY) == VALUES
    assert sink.read("repo.app.api_key.missing") is None


def test_aws_sink_overwrites_the_secret_of_a_rotated_key(aws: None) -> None:
    sink = AwsSecretsManagerSink("fbplan/acme", "eu-west-1")
    sink.write(KEY, VALUES)
    sink.write(KEY, {"key": "NEWID", "secret": "rotated-secret-0b0b"})
    assert stored(f"fbplan/acme/{KEY}") == {"key": "NEWID", "secret": "rotated-secret-0b0b"}


# -- configuration -------------------------------------------------------------------------


def test_sink_from_spec_builds_each_type_relative_to_the_spec_folder(
    tmp_path: Path, aws: None
) -> None:
    dotenv = sink_from_spec({"type": "dotenv", "path": "s.env"}, tmp_path)
    json_sink = sink_from_spec({"type": "json", "path": "out/s.json"}, tmp_path)
    aws_sink = sink_from_spec(
        {"type": "aws_secretsmanager", "prefix": "p", "region": "eu-west-1"}, tmp_path
    )
    assert isinstance(dotenv, DotenvSink) and dotenv.path == tmp_path / "s.env"
    assert isinstance(json_sink, JsonSink) and json_sink.path == tmp_path / "out" / "s.json"
    assert isinstance(aws_sink, AwsSecretsManagerSink)
    assert sink_from_spec(None, tmp_path) is None
    with pytest.raises(ConfigError, match="unknown secret sink type 'vault'"):
        sink_from_spec({"type": "vault"}, tmp_path)


# -- AWS failures ----------------------------------------------------------------------------

NAME = f"fbplan/acme/{KEY}"


class FailingClient:
    """A Secrets Manager client whose every call raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_secret_value(self, **kw: object) -> None:
        raise self.error

    def put_secret_value(self, **kw: object) -> None:
        raise self.error


def test_an_aws_sink_without_a_region_is_built_and_fails_clearly_at_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    sink = sink_from_spec({"type": "aws_secretsmanager", "prefix": "fbplan/acme"}, tmp_path)
    assert sink is not None and sink.description == "AWS Secrets Manager under fbplan/acme/"
    with pytest.raises(ConfigError) as caught:
        sink.read(KEY)
    assert str(caught.value) == (
        f"the AWS Secrets Manager under fbplan/acme/ could not read the secret {NAME}: no AWS "
        "region is configured (set region in secrets.sink, or AWS_DEFAULT_REGION)"
    )
    with pytest.raises(ConfigError, match=f"could not store the secret {NAME}: no AWS region"):
        sink.write(KEY, VALUES)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (NoCredentialsError(), "no AWS credentials were found (set AWS_PROFILE"),
        (
            ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                "GetSecretValue",
            ),
            "AWS answered AccessDeniedException (not authorized)",
        ),
    ],
)
def test_aws_failures_are_one_sentence_naming_the_sink_and_the_secret(
    error: Exception, reason: str
) -> None:
    sink = AwsSecretsManagerSink("fbplan/acme", "eu-west-1", client=FailingClient(error))
    for call, verb in (
        (lambda: sink.read(KEY), "read"),
        (lambda: sink.write(KEY, VALUES), "store"),
    ):
        with pytest.raises(ConfigError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(
            f"the AWS Secrets Manager under fbplan/acme/ could not {verb} the secret {NAME}: "
            f"{reason}"
        )
        assert VALUES["secret"] not in message and "\n" not in message


@pytest.mark.parametrize("stored_text", ["not-json-secret-3f3f", '["a"]', '{"key": "k"}'])
def test_an_aws_secret_that_is_not_a_key_pair_is_a_config_error(
    aws: None, stored_text: str
) -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    client.create_secret(Name=NAME, SecretString=stored_text)
    with pytest.raises(ConfigError) as caught:
        AwsSecretsManagerSink("fbplan/acme", "eu-west-1").read(KEY)
    message = str(caught.value)
    assert message.startswith(
        f"the AWS Secrets Manager under fbplan/acme/ holds no JSON object with key and secret "
        f"in the secret {NAME}"
    )
    assert stored_text not in message


# -- empty secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", None])
def test_no_sink_stores_an_empty_secret(tmp_path: Path, aws: None, secret: str | None) -> None:
    values = {"key": "FBKEYID123"} if secret is None else {"key": "FBKEYID123", "secret": secret}
    sinks = [
        DotenvSink(tmp_path / "secrets.env"),
        JsonSink(tmp_path / "secrets.json"),
        AwsSecretsManagerSink("fbplan/acme", "eu-west-1"),
    ]
    for sink in sinks:
        with pytest.raises(ValueError, match=f"the secret of {KEY} is empty"):
            sink.write(KEY, values)
        assert sink.read(KEY) is None
    assert list(tmp_path.iterdir()) == []


def test_removing_a_deleted_key_keeps_every_other_line(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text('# settings\nGREETING="hello"\n')
    sink = DotenvSink(path)
    sink.write("repo.app.api_key.rw", {"key": "K1", "secret": "s3cret-value-1"})
    sink.write("repo.app.api_key.ro", {"key": "K2", "secret": "s3cret-value-2"})
    sink.remove("repo.app.api_key.rw")
    assert path.read_text() == (
        '# settings\nGREETING="hello"\nAPP_API_KEY_RO_KEY_ID="K2"\nAPP_API_KEY_RO_SECRET="s3cret-value-2"\n'
    )
    assert sink.read("repo.app.api_key.rw") is None


def test_removing_from_a_json_sink(tmp_path: Path) -> None:
    sink = JsonSink(tmp_path / "s.json")
    sink.write("repo.app.api_key.rw", {"key": "K1", "secret": "s3cret-value-1"})
    sink.remove("repo.app.api_key.rw")
    sink.remove("repo.app.api_key.never")  # nothing to remove is fine
    assert sink.read("repo.app.api_key.rw") is None


@pytest.mark.parametrize("sink_type", [DotenvSink, JsonSink])
def test_keys_written_at_once_are_all_kept_and_a_failed_write_fails_every_one_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sink_type: type[DotenvSink | JsonSink]
) -> None:
    sink = sink_type(tmp_path / "secrets")
    start = threading.Barrier(16, timeout=10)
    failures: list[BaseException] = []

    def write(index: int) -> None:
        start.wait()
        try:
            sink.write(f"repo.r{index}.api_key.rw", {"key": f"id{index}", "secret": f"s{index}"})
        except ConfigError as error:
            failures.append(error)

    def write_all() -> None:
        threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

    write_all()
    assert failures == []
    assert all(
        sink.read(f"repo.r{i}.api_key.rw") == {"key": f"id{i}", "secret": f"s{i}"}
        for i in range(16)
    )

    def broken_replace(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    write_all()
    assert len(failures) == 16
    assert all("cannot write the secret sink" in str(error) for error in failures)


def test_a_sink_file_edited_between_two_reads_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    sink = JsonSink(path)
    sink.write(KEY, VALUES)
    assert sink.read(KEY) == VALUES
    path.write_text(json.dumps({KEY: {"key": "FBKEYID999", "secret": "edited-by-hand-77"}}))
    assert sink.read(KEY) == {"key": "FBKEYID999", "secret": "edited-by-hand-77"}
    path.unlink()
    assert sink.read(KEY) is None
