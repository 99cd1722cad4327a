"""The storage smoke check: write, read back, delete and miss one object through a Bridge
Node with boto3, as an application would (flashback-integration-guide, golden rule 2).

The client: path-style addressing, the dummy region `us-east-1`, 30 s connect and read
timeouts, at most 3 attempts with jittered exponential backoff (botocore's `standard`
retry mode). The S3 bucket is the repository's name. `S3ClientFactory` is the seam tests
use; one `attempt` is put, get (bytes compared), delete, gone (HEAD answers 404), each
step timed. Failures are classified for the runner: `hard` (a fix is needed), `soft`
(403/429/QUOTA_EXCEEDED: try another route or wait) or `unreachable`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fbplan.smoke import Attempt, Failure, SmokeStep

S3ClientFactory = Callable[[str, str, str], Any]  # (endpoint URL, key id, secret) -> client
Emit = Callable[[SmokeStep], None]
Explained = tuple[Failure, str, str]  # (failure, message, fix)

REGION = "us-east-1"
TIMEOUT_SECONDS = 30
MAX_ATTEMPTS = 3
OBJECT_PREFIX = "fbplan-smoke/"
_SOFT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "QUOTA_EXCEEDED",
    "QuotaExceeded",
}
_UNREACHABLE_STATUS = {502, 503, 504}
_WRITE_STEPS = {"put", "delete"}


def default_s3_client(endpoint_url: str, key_id: str, secret: str) -> Any:
    """A boto3 S3 client for a Bridge Node, configured as the integration guide asks."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "region_name": REGION,
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path"},
        "connect_timeout": TIMEOUT_SECONDS,
        "read_timeout": TIMEOUT_SECONDS,
        # `total_max_attempts` counts the first request; botocore's `max_attempts` would not
        # (max_attempts: 3 means 4 requests in all).
        "retries": {"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    }
    try:  # botocore >= 1.36: checksums only where S3 requires them (wider node support)
        config = Config(
            **options,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    except TypeError:
        config = Config(**options)
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=config,
    )


@dataclass(frozen=True)
class KeyFacts:
    """What messages say about the key: its name, address, id, access and where it came from."""

    name: str
    address: str
    key_id: str
    access: str | None
    source: str


@dataclass(frozen=True)
class StorageRoute:
    """One way to reach the repo: a Bridge Node URL and an object key prefix (a bucket's
    folder in a NORMAL repo; '' writes at the repository's root)."""

    endpoint: str
    prefix: str = ""
    label: str = ""

    def describe(self) -> str:
        return f"{self.endpoint} ({self.label})" if self.label else self.endpoint


def object_key(prefix: str = "") -> str:
    return f"{prefix}{OBJECT_PREFIX}{uuid.uuid4()}"


def payload(name: str) -> bytes:
    return f"fbplan smoke check {name} {os.urandom(16).hex()}\n".encode()


class _StepFailed(Exception):
    def __init__(self, failure: Failure, message: str, fix: str) -> None:
        super().__init__(message)
        self.failure, self.message, self.fix = failure, message, fix


def attempt(client: Any, bucket: str, route: StorageRoute, key: KeyFacts, emit: Emit) -> Attempt:
    """put, get, delete, gone through `route`; stops at the first failed step."""
    result = Attempt()
    name = object_key(route.prefix)
    body = payload(name)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("put", lambda: _put(client, bucket, name, body)),
        ("get", lambda: _get(client, bucket, name, body)),
        ("delete", lambda: _delete(client, bucket, name)),
        ("gone", lambda: _gone(client, bucket, name)),
    ]
    for step_name, run in steps:
        started = time.perf_counter()
        try:
            message = run()
        except Exception as exc:  # botocore errors and our own checks, explained once
            failure, text, fix = _explain(exc, step_name, key, bucket, route.endpoint)
            step = SmokeStep(step_name, False, _since(started), route.endpoint, text, fix)
            _record(result, emit, step)
            result.failure = failure
            if step_name == "get":
                _cleanup(client, bucket, name)
            return result
        _record(result, emit, SmokeStep(step_name, True, _since(started), route.endpoint, message))
    return result


def _explain(exc: Exception, step: str, key: KeyFacts, bucket: str, endpoint: str) -> Explained:
    if isinstance(exc, _StepFailed):
        return exc.failure, exc.message, exc.fix
    return classify(exc, step, key, bucket, endpoint)


def _record(result: Attempt, emit: Emit, step: SmokeStep) -> None:
    result.steps.append(step)
    emit(step)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)


def _put(client: Any, bucket: str, name: str, body: bytes) -> str:
    client.put_object(Bucket=bucket, Key=name, Body=body)
    return f"wrote s3://{bucket}/{name} ({len(body)} bytes)"


def _get(client: Any, bucket: str, name: str, body: bytes) -> str:
    answer = client.get_object(Bucket=bucket, Key=name)
    data = answer["Body"].read()
    if data != body:
        raise _StepFailed(
            Failure("hard"),
            f"read back {len(data)} bytes that differ from the {len(body)} bytes written",
            "the Bridge Node or a bucket behind it changed the object; check the repo's buckets",
        )
    return f"read the same {len(data)} bytes back"


def _delete(client: Any, bucket: str, name: str) -> str:
    client.delete_object(Bucket=bucket, Key=name)
    return f"deleted {name}"


def _gone(client: Any, bucket: str, name: str) -> str:
    try:
        client.head_object(Bucket=bucket, Key=name)
    except Exception as exc:
        if _status(exc) == 404:
            return "the object is gone (HEAD answered 404)"
        raise
    raise _StepFailed(
        Failure("hard"),
        f"{name} is still there after it was deleted (HEAD answered 200)",
        "the delete did not reach every bucket of the repo; check the repo's buckets and mode",
    )


def _cleanup(client: Any, bucket: str, name: str) -> None:
    """Best effort: a check that failed after its put must not leave its object behind."""
    try:
        client.delete_object(Bucket=bucket, Key=name)
    except Exception:
        return


def _error(exc: Exception) -> tuple[str, str]:
    error = (getattr(exc, "response", None) or {}).get("Error") or {}
    return str(error.get("Code") or ""), str(error.get("Message") or "")


def _status(exc: Exception) -> int | None:
    meta = (getattr(exc, "response", None) or {}).get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    return int(status) if status else None


def _retry_after(exc: Exception) -> float | None:
    meta = (getattr(exc, "response", None) or {}).get("ResponseMetadata") or {}
    value = (meta.get("HTTPHeaders") or {}).get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def classify(exc: Exception, step: str, key: KeyFacts, bucket: str, endpoint: str) -> Explained:
    """(failure, message, fix) for an exception raised by the S3 client at `step`."""
    code, detail = _error(exc)
    status = _status(exc)
    if code or status:
        return _classify_answer(code, detail, status, exc, step, key, bucket)
    return _classify_transport(exc, endpoint)


def _hard(message: str, fix: str) -> Explained:
    return Failure("hard"), message, fix


def _classify_answer(
    code: str,
    detail: str,
    status: int | None,
    exc: Exception,
    step: str,
    key: KeyFacts,
    bucket: str,
) -> Explained:
    detail = detail.strip().rstrip(".")
    said = f"HTTP {status} {code}".strip() + (f": {detail}" if detail else "")
    read_only = (key.access or "").upper() == "READ"
    if code == "SignatureDoesNotMatch":
        fix = (
            f"the secret from {key.source} is wrong or stale: renew the key with `fbplan apply "
            f"--rotate {key.address} --allow-delete`, or export its real secret in FB_KEY_SECRET"
        )
        return _hard(f"the secret does not match key {key.name} (id {key.key_id}): {said}", fix)
    if code == "InvalidAccessKeyId":
        fix = (
            f"the key from {key.source} is not a storage key of a live repository: apply the "
            f"spec so {key.address} exists, or fix FB_KEY_ID"
        )
        return _hard(f"the Bridge Node does not know key {key.name} (id {key.key_id}): {said}", fix)
    if code == "AccessDenied" and step in _WRITE_STEPS and read_only:
        message = f"the key {key.name} has READ access; smoke writes need WRITE: {said}"
        fix = (
            f"set access: WRITE on {key.address} in the spec, or name a WRITE key in smoke.storage"
        )
        return _hard(message, fix)
    if code in ("NoSuchBucket", "NoSuchKey") and step != "gone":
        message = f"{said} (the S3 bucket is the repository name {bucket!r})"
        return _hard(message, "check that the repository is live and the endpoint a Bridge Node")
    if status == 429 or code in _SOFT_CODES or "QUOTA_EXCEEDED" in detail.upper():
        return Failure("soft", _retry_after(exc)), f"quota or rate limit: {said}", _QUOTA_FIX
    if status == 403:
        return Failure("soft", _retry_after(exc)), f"refused: {said}", _QUOTA_FIX
    if status in _UNREACHABLE_STATUS:
        return Failure("unreachable"), f"the Bridge Node is unavailable: {said}", _NODE_FIX
    return _hard(said, "see the Bridge Node's answer above")


_QUOTA_FIX = (
    "the repository or its buckets hit a quota or rate limit: check `fbplan stats` and the "
    "organization's quota, free space or raise the limit, then run `fbplan smoke` again"
)
_NODE_FIX = "try another Bridge Node (endpoint: auto) or check the node's status in `fbplan stats`"


def _classify_transport(exc: Exception, endpoint: str) -> Explained:
    name = type(exc).__name__
    if "Timeout" in name:
        message = f"no answer from {endpoint} within {TIMEOUT_SECONDS} s ({name})"
    elif "Connect" in name or "Connection" in name:
        message = f"could not connect to {endpoint} ({name})"
    else:
        return Failure("hard"), f"{name}: {exc}", "see the error above"
    return Failure("unreachable"), message, _NODE_FIX
