"""Which credentials a smoke target uses, found before any call is made.

Storage targets use a repo storage key pair: the one fbplan kept in the secret sink when it
created the key (`sink.read("repo.R.api_key.K")`), or `FB_KEY_ID`/`FB_KEY_SECRET` when the
sink has none for it or when `FB_KEY_ID` names that same key (an override of its secret).
AI targets use the `secret` of a repo AI key from the sink, or `FB_OPENAI_API_KEY`.

Storage and AI keys are never mixed: a target naming the other kind of key, an
`FB_OPENAI_API_KEY` that looks like a storage key pair, or storage variables holding an AI
key are errors (`ConfigError`) before any call. Every value read here is a `Secret`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fbplan.errors import ConfigError
from fbplan.secrets.sinks import SecretSink
from fbplan.secrets.values import Secret

ENV_KEY_ID, ENV_KEY_SECRET, ENV_AI_KEY = "FB_KEY_ID", "FB_KEY_SECRET", "FB_OPENAI_API_KEY"
# An S3-style access key id: upper-case letters and digits only (AKIA..., FBK...).
_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
_PAIR_SEPARATOR = re.compile(r"[:,\s]+")
_AI_KEY_PREFIXES = ("sk-", "FB_AI_")


@dataclass(frozen=True)
class StorageCredentials:
    key_id: str
    secret: Secret
    source: str


@dataclass(frozen=True)
class AiCredentials:
    token: Secret
    source: str


@dataclass(frozen=True)
class CredentialIssue:
    """Why a target has no usable credentials (the target fails at step `credentials`)."""

    message: str
    fix: str


def storage_address(repo: str, key: str) -> str:
    return f"repo.{repo}.api_key.{key}"


def ai_address(repo: str, key: str) -> str:
    return f"repo.{repo}.ai_api_key.{key}"


def check_key_kind(spec_data: Mapping[str, Any], section: str, index: int) -> None:
    """Refuse a `smoke.storage` target naming an AI key, or a `smoke.ai` one naming a
    storage key, before any call."""
    check = spec_data["smoke"][section][index]
    field, other = (
        ("api_key", "ai_api_keys") if section == "storage" else ("ai_api_key", "api_keys")
    )
    repo = (spec_data.get("repos") or {}).get(check.get("repo")) or {}
    name = check.get(field)
    own = repo.get(f"{field}s") or {}
    if name not in own and name in (repo.get(other) or {}):
        wanted = (
            "storage API key (api_keys)" if section == "storage" else "AI API key (ai_api_keys)"
        )
        kind = "an AI API key" if section == "storage" else "a storage API key"
        raise ConfigError(
            f"smoke.{section}[{index}]: {name!r} is {kind} of repo {check.get('repo')!r}; "
            f"{section} checks need a {wanted}: storage and AI keys are never mixed"
        )


def storage_credentials(
    address: str,
    sink: SecretSink | None,
    env: Mapping[str, str],
    *,
    live_key_id: str | None,
    key_owners: Mapping[str, str],
) -> StorageCredentials | CredentialIssue:
    """The key pair for the storage key at `address` (see the module docstring)."""
    env_id, env_secret = _env_pair(env)
    stored = sink.read(address) if sink is not None else None
    own_ids = {live_key_id, (stored or {}).get("key")} - {None, ""}
    if env_id and (not stored or env_id in own_ids):
        owner = key_owners.get(env_id)
        if owner and owner != address:
            raise ConfigError(
                f"{ENV_KEY_ID} is the key id of {owner}, not of {address} (the smoke target's "
                f"key); unset {ENV_KEY_ID}/{ENV_KEY_SECRET} or name {owner} in smoke.storage"
            )
        return StorageCredentials(env_id, Secret(env_secret, f"env:{ENV_KEY_SECRET}"), _ENV_SOURCE)
    if stored and stored.get("secret"):
        return _from_sink(address, stored, sink, live_key_id)
    return CredentialIssue(
        f"no secret for {address}: {_where(sink)} and {ENV_KEY_ID}/{ENV_KEY_SECRET} are not set",
        f"a key's secret is shown only when it is created: renew it with `fbplan apply "
        f"--rotate {address} --allow-delete` so fbplan keeps it, "
        f"or export {ENV_KEY_ID} and {ENV_KEY_SECRET}",
    )


_ENV_SOURCE = f"{ENV_KEY_ID}/{ENV_KEY_SECRET}"


def _where(sink: SecretSink | None) -> str:
    if sink is None:
        return "the spec configures no secrets.sink"
    return f"the secret sink ({sink.description}) has none"


def _env_pair(env: Mapping[str, str]) -> tuple[str, str]:
    key_id, secret = env.get(ENV_KEY_ID, "").strip(), env.get(ENV_KEY_SECRET, "").strip()
    if bool(key_id) != bool(secret):
        missing = ENV_KEY_SECRET if key_id else ENV_KEY_ID
        raise ConfigError(f"{missing} is not set: set both {ENV_KEY_ID} and {ENV_KEY_SECRET}")
    if secret:
        Secret(secret, f"env:{ENV_KEY_SECRET}")  # registered for redaction from here on
    if looks_like_ai_key(key_id) or looks_like_ai_key(secret):
        raise ConfigError(
            f"{ENV_KEY_ID}/{ENV_KEY_SECRET} hold an AI API key; storage checks need a repo "
            "storage key pair: storage and AI keys are never mixed"
        )
    return key_id, secret


def _from_sink(
    address: str, stored: Mapping[str, str], sink: Any, live_key_id: str | None
) -> StorageCredentials | CredentialIssue:
    key_id = stored.get("key") or live_key_id or ""
    if live_key_id and key_id != live_key_id:
        return CredentialIssue(
            f"the secret sink ({sink.description}) holds key {key_id} for {address}, but the "
            f"live key is {live_key_id} (it was replaced outside fbplan)",
            f"renew the key with `fbplan apply --rotate {address} --allow-delete` "
            "so the sink holds its secret",
        )
    secret = Secret(stored["secret"], f"sink:{address}")
    return StorageCredentials(key_id, secret, f"the secret sink ({sink.description})")


def ai_credentials(
    address: str,
    sink: SecretSink | None,
    env: Mapping[str, str],
    *,
    storage_values: Iterable[str] = (),
) -> AiCredentials | CredentialIssue:
    """The bearer token for the AI key at `address`: its secret from the sink, else
    `FB_OPENAI_API_KEY`. Raises `ConfigError` if the value looks like a storage key pair."""
    env_token = env.get(ENV_AI_KEY, "").strip()
    if env_token:
        Secret(env_token, f"env:{ENV_AI_KEY}")
        _refuse_storage_value(env_token, ENV_AI_KEY, storage_values)
    stored = sink.read(address) if sink is not None else None
    if sink is not None and stored and stored.get("secret"):
        _refuse_storage_value(stored["secret"], f"the sink's secret for {address}", storage_values)
        token = Secret(stored["secret"], f"sink:{address}")
        return AiCredentials(token, f"the secret sink ({sink.description})")
    if env_token:
        return AiCredentials(Secret(env_token, f"env:{ENV_AI_KEY}"), ENV_AI_KEY)
    return CredentialIssue(
        f"no secret for {address}: {_where(sink)} and {ENV_AI_KEY} is not set",
        f"a key's secret is shown only when it is created: renew it with `fbplan apply "
        f"--rotate {address} --allow-delete` so fbplan keeps it, or export {ENV_AI_KEY}",
    )


def _refuse_storage_value(value: str, origin: str, storage_values: Iterable[str]) -> None:
    if looks_like_storage_pair(value, storage_values):
        raise ConfigError(
            f"{origin} looks like a storage key pair (an S3 access key id and secret); the AI "
            "gateway needs the secret of a repository AI API key (ai_api_keys): storage and AI "
            "keys are never mixed"
        )


def looks_like_storage_pair(value: str, known: Iterable[str] = ()) -> bool:
    """True for a known storage key id or secret, an S3-style access key id, or a
    `KEYID:SECRET` (or space/comma separated) pair starting with one."""
    value = value.strip()
    if not value or value.startswith(_AI_KEY_PREFIXES):
        return False
    known_values = {k for k in known if k}
    if value in known_values or _ACCESS_KEY_ID.match(value):
        return True
    parts = _PAIR_SEPARATOR.split(value)
    return len(parts) == 2 and bool(_ACCESS_KEY_ID.match(parts[0]) or parts[0] in known_values)


def looks_like_ai_key(value: str) -> bool:
    return value.strip().startswith(_AI_KEY_PREFIXES)
