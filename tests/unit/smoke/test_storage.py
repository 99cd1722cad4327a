"""One storage attempt (put, get, delete, gone) and how S3 failures are explained."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from fbplan.smoke import SmokeStep
from fbplan.smoke.storage import KeyFacts, StorageRoute, attempt, classify, default_s3_client

ENDPOINT = "http://bridge.test"
RW = KeyFacts("app-rw", "repo.app.api_key.app-rw", "FBKABCDEFGHIJKLMNOPQ", "WRITE", "the sink")
RO = KeyFacts("app-ro", "repo.app.api_key.app-ro", "FBKREADONLY000000001", "READ", "the sink")


def client_error(status: int, code: str, message: str = "", headers: dict | None = None) -> Any:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
    }
    return ClientError(response, "PutObject")  # type: ignore[arg-type]


class FakeS3:
    """An in-memory S3 client; `fail` maps an operation to the exception it raises."""

    def __init__(self, fail: dict[str, Exception] | None = None, corrupt: bool = False) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.fail = fail or {}
        self.corrupt = corrupt
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict:
        self._call("put")
        self.objects[Bucket, Key] = Body
        return {}

    def get_object(self, Bucket: str, Key: str) -> dict:
        self._call("get")
        data = self.objects[Bucket, Key]
        return {"Body": io.BytesIO(data + b"x" if self.corrupt else data)}

    def delete_object(self, Bucket: str, Key: str) -> dict:
        self._call("delete")
        self.objects.pop((Bucket, Key), None)
        return {}

    def head_object(self, Bucket: str, Key: str) -> dict:
        self._call("head")
        if (Bucket, Key) not in self.objects:
            raise client_error(404, "404", "Not Found")
        return {}


def run(client: FakeS3, key: KeyFacts = RW) -> tuple[Any, list[SmokeStep]]:
    seen: list[SmokeStep] = []
    result = attempt(client, "app", StorageRoute(ENDPOINT), key, seen.append)
    return result, seen


def test_an_attempt_writes_reads_deletes_and_misses_the_object() -> None:
    client = FakeS3()
    result, seen = run(client)
    assert result.ok and [s.name for s in seen] == ["put", "get", "delete", "gone"]
    assert all(s.ok and s.endpoint == ENDPOINT and s.seconds >= 0 for s in seen)
    assert "wrote s3://app/fbplan-smoke/" in seen[0].message
    assert client.objects == {}


def test_different_bytes_fail_at_get_and_the_object_is_cleaned_up() -> None:
    client = FakeS3(corrupt=True)
    result, seen = run(client)
    assert result.failure.kind == "hard" and seen[-1].name == "get"
    assert "differ" in seen[-1].message and client.objects == {}


def test_an_object_still_there_after_delete_fails_at_gone() -> None:
    client = FakeS3()
    client.delete_object = lambda Bucket, Key: {}  # type: ignore[method-assign]
    result, seen = run(client)
    assert result.failure.kind == "hard" and seen[-1].name == "gone"
    assert "still there" in seen[-1].message


def test_a_read_only_key_fails_at_put_as_a_permission_failure() -> None:
    denied = client_error(403, "AccessDenied", "A READ key may not PUT this resource.")
    result, seen = run(FakeS3({"put": denied}), RO)
    assert result.failure.kind == "hard"
    assert "the key app-ro has READ access; smoke writes need WRITE" in seen[-1].message
    assert "access: WRITE" in seen[-1].fix


def test_access_denied_for_a_write_key_is_a_soft_signal() -> None:
    failure, message, _ = classify(client_error(403, "AccessDenied"), "put", RW, "app", ENDPOINT)
    assert failure.kind == "soft" and "refused" in message


def test_a_wrong_secret_is_named() -> None:
    error = client_error(403, "SignatureDoesNotMatch", "The signature does not match.")
    failure, message, fix = classify(error, "put", RW, "app", ENDPOINT)
    assert failure.kind == "hard"
    assert message.startswith("the secret does not match key app-rw (id FBKABCDEFGHIJKLMNOPQ)")
    assert "--rotate repo.app.api_key.app-rw" in fix


def test_an_unknown_key_is_named() -> None:
    error = client_error(403, "InvalidAccessKeyId")
    failure, message, _ = classify(error, "put", RW, "app", ENDPOINT)
    assert failure.kind == "hard" and "does not know key app-rw" in message


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(429, "429", ""), (503, "SlowDown", ""), (403, "Forbidden", "QUOTA_EXCEEDED: storage")],
)
def test_throttling_and_quota_are_soft_with_retry_after(
    status: int, code: str, message: str
) -> None:
    error = client_error(status, code, message, {"retry-after": "2"})
    failure, _text, fix = classify(error, "put", RW, "app", ENDPOINT)
    assert failure.kind == "soft" and failure.retry_after == 2.0
    assert "fbplan stats" in fix


def test_an_unavailable_or_unreachable_node_is_unreachable() -> None:
    failure, text, _ = classify(client_error(503, "ServiceUnavailable"), "put", RW, "a", ENDPOINT)
    assert failure.kind == "unreachable" and "unavailable" in text
    error = EndpointConnectionError(endpoint_url=ENDPOINT)
    failure, text, _ = classify(error, "put", RW, "app", ENDPOINT)
    assert failure.kind == "unreachable" and f"could not connect to {ENDPOINT}" in text


def test_the_default_client_is_path_style_with_bounded_retries_and_timeouts() -> None:
    client = default_s3_client(ENDPOINT, "FBKABCDEFGHIJKLMNOPQ", "secret-value")
    config = client.meta.config
    assert client.meta.region_name == "us-east-1"
    assert config.s3["addressing_style"] == "path"
    assert (config.connect_timeout, config.read_timeout) == (30, 30)
    assert config.retries == {"total_max_attempts": 3, "mode": "standard"}  # 3 requests in all
    assert client.meta.endpoint_url == ENDPOINT
