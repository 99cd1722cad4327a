"""Where smoke credentials come from, and the rule that storage and AI keys never mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbplan.errors import ConfigError
from fbplan.secrets.sinks import JsonSink
from fbplan.secrets.values import MASK, redact
from fbplan.smoke.credentials import (
    AiCredentials,
    CredentialIssue,
    StorageCredentials,
    ai_credentials,
    check_key_kind,
    looks_like_storage_pair,
    storage_credentials,
)

RW, RO, AI = "repo.app.api_key.app-rw", "repo.app.api_key.app-ro", "repo.app.ai_api_key.app-ai"
KEY_ID, SECRET = "FBKABCDEFGHIJKLMNOPQ", "s3cretS3cretS3cretS3cretS3cretS3cret0001"
AI_SECRET = "sk-fb-aisecretaisecretaisecretaisecret0001"


@pytest.fixture
def sink(tmp_path: Path) -> JsonSink:
    sink = JsonSink(tmp_path / "secrets.json")
    sink.write(RW, {"key": KEY_ID, "secret": SECRET})
    sink.write(AI, {"key": "sk-fb-keyid", "secret": AI_SECRET})
    return sink


def storage(sink: JsonSink | None, env: dict[str, str], **kw: object) -> object:
    options = {"live_key_id": KEY_ID, "key_owners": {KEY_ID: RW}} | kw
    return storage_credentials(RW, sink, env, **options)  # type: ignore[arg-type]


def test_the_sink_gives_the_key_fbplan_created(sink: JsonSink) -> None:
    found = storage(sink, {})
    assert isinstance(found, StorageCredentials)
    assert (found.key_id, found.secret.reveal()) == (KEY_ID, SECRET)
    assert "secret sink" in found.source and redact(SECRET) == MASK


def test_environment_is_used_when_the_sink_has_no_entry(tmp_path: Path) -> None:
    env = {"FB_KEY_ID": "FBKOTHERKEYOTHERKEY1", "FB_KEY_SECRET": "envsecretenvsecret"}
    found = storage(JsonSink(tmp_path / "none.json"), env, live_key_id=None, key_owners={})
    assert isinstance(found, StorageCredentials) and found.source == "FB_KEY_ID/FB_KEY_SECRET"
    assert redact("envsecretenvsecret") == MASK


def test_environment_overrides_the_sink_for_the_same_key(sink: JsonSink) -> None:
    found = storage(sink, {"FB_KEY_ID": KEY_ID, "FB_KEY_SECRET": "a-wrong-secret-value"})
    assert isinstance(found, StorageCredentials)
    assert found.secret.reveal() == "a-wrong-secret-value"


def test_environment_naming_another_live_key_is_an_error(tmp_path: Path) -> None:
    env = {"FB_KEY_ID": "FBKREADONLYKEY000001", "FB_KEY_SECRET": "whatever-secret"}
    with pytest.raises(ConfigError, match=f"key id of {RO}, not of {RW}"):
        storage(JsonSink(tmp_path / "x.json"), env, key_owners={"FBKREADONLYKEY000001": RO})


def test_half_of_the_storage_environment_is_an_error(sink: JsonSink) -> None:
    with pytest.raises(ConfigError, match="FB_KEY_SECRET is not set"):
        storage(sink, {"FB_KEY_ID": KEY_ID})


def test_an_ai_key_in_the_storage_environment_is_an_error(sink: JsonSink) -> None:
    with pytest.raises(ConfigError, match="never mixed"):
        storage(sink, {"FB_KEY_ID": KEY_ID, "FB_KEY_SECRET": AI_SECRET})


def test_a_stale_sink_entry_is_reported_with_the_rotate_fix(sink: JsonSink) -> None:
    found = storage(sink, {}, live_key_id="FBKNEWKEYNEWKEY00001")
    assert isinstance(found, CredentialIssue)
    assert "replaced outside fbplan" in found.message and f"--rotate {RW}" in found.fix


def test_no_secret_anywhere_says_how_to_get_one(tmp_path: Path) -> None:
    found = storage(None, {})
    assert isinstance(found, CredentialIssue)
    assert "the spec configures no secrets.sink" in found.message and "--rotate" in found.fix


def test_the_ai_key_comes_from_the_sink_else_the_environment(
    sink: JsonSink, tmp_path: Path
) -> None:
    found = ai_credentials(AI, sink, {})
    assert isinstance(found, AiCredentials) and found.token.reveal() == AI_SECRET
    env = {"FB_OPENAI_API_KEY": "sk-fb-fromtheenvironment"}
    found = ai_credentials(AI, JsonSink(tmp_path / "none.json"), env)
    assert isinstance(found, AiCredentials) and found.source == "FB_OPENAI_API_KEY"
    assert isinstance(ai_credentials(AI, None, {}), CredentialIssue)


@pytest.mark.parametrize(
    "value",
    [KEY_ID, f"{KEY_ID}:{SECRET}", f"{KEY_ID} {SECRET}", "AKIAIOSFODNN7EXAMPLE", SECRET],
)
def test_an_ai_key_that_looks_like_a_storage_pair_is_refused(tmp_path: Path, value: str) -> None:
    env = {"FB_OPENAI_API_KEY": value}
    with pytest.raises(ConfigError, match="looks like a storage key pair"):
        ai_credentials(AI, JsonSink(tmp_path / "x.json"), env, storage_values=[KEY_ID, SECRET])


@pytest.mark.parametrize("value", [AI_SECRET, "FB_AI_abcdef123456", "plain-gateway-token"])
def test_ai_key_shapes_are_not_storage_pairs(value: str) -> None:
    assert not looks_like_storage_pair(value, [KEY_ID, SECRET])


def test_a_target_naming_the_other_kind_of_key_is_refused() -> None:
    data = {
        "repos": {"app": {"api_keys": {"app-rw": {}}, "ai_api_keys": {"app-ai": {}}}},
        "smoke": {
            "storage": [{"repo": "app", "api_key": "app-ai"}],
            "ai": [{"repo": "app", "ai_api_key": "app-rw", "model": "m"}],
        },
    }
    with pytest.raises(ConfigError, match="is an AI API key of repo 'app'"):
        check_key_kind(data, "storage", 0)
    with pytest.raises(ConfigError, match="is a storage API key of repo 'app'"):
        check_key_kind(data, "ai", 0)
