"""AWS Signature Version 4 verification for the emulator's S3 Bridge Node.

The server recomputes the signature of an incoming request with botocore's own signer
(`botocore.auth.S3SigV4Auth`): the canonical request is rebuilt from what was received (method,
raw path, query, the headers the client listed in ``SignedHeaders``, ``x-amz-content-sha256``)
and signed with the secret of the access key id the client presented, at the client's
``x-amz-date`` and credential scope. Only the comparison and the parsing of the Authorization
header (or of a presigned URL's query) are written here; no hand-rolled HMAC chain.

Two request forms are accepted:

- header auth: ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``
  with ``x-amz-date`` (or ``Date``) and ``x-amz-content-sha256``;
- presigned URLs: ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
  ``X-Amz-SignedHeaders`` and ``X-Amz-Signature`` in the query string.

Streaming uploads (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) are checked on their seed signature
only; the per-chunk signatures are not verified.

Errors are raised as `SigV4Error` carrying the S3 error code and HTTP status the real service
would answer with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
)
_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")


class SigV4Error(Exception):
    """A request failed authentication; `code` and `status` are what S3 would answer."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SignedRequest:
    """What a client claimed when signing: who, when, where, which headers, and the signature."""

    access_key: str
    timestamp: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool = False
    expires: int | None = None


@dataclass(frozen=True)
class IncomingRequest:
    """A received HTTP request as the verifier needs it (raw path and query, as sent)."""

    method: str
    raw_path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


def is_presigned(query: str) -> bool:
    """Whether a raw query string carries presigned-URL authentication."""
    return any(key == "X-Amz-Signature" for key, _ in parse_qsl(query, keep_blank_values=True))


def parse_request(request: IncomingRequest) -> SignedRequest:
    """Parse the signature claims from the Authorization header or a presigned query.

    Raises `SigV4Error` (`AccessDenied` when there is no authentication at all,
    `AuthorizationHeaderMalformed` or `AuthorizationQueryParametersError` when it is garbled).
    """
    if is_presigned(request.query):
        return _parse_presigned(request.query)
    header = request.header("Authorization")
    if not header:
        raise SigV4Error("AccessDenied", "Anonymous access is not allowed on a Bridge Node.")
    return _parse_header(header, request)


def _parse_header(header: str, request: IncomingRequest) -> SignedRequest:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error(
            "InvalidRequest", f"Unsupported authorization type; use {ALGORITHM}.", status=400
        )
    fields = dict(_AUTH_FIELD.findall(rest))
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise SigV4Error(
            "AuthorizationHeaderMalformed",
            "The authorization header must carry Credential, SignedHeaders and Signature.",
            status=400,
        )
    timestamp = request.header("x-amz-date") or _timestamp_from_date(request.header("Date"))
    return _claims(fields["Credential"], fields["SignedHeaders"], fields["Signature"], timestamp)


def _parse_presigned(query: str) -> SignedRequest:
    params = dict(parse_qsl(query, keep_blank_values=True))
    missing = [p for p in PRESIGN_PARAMS[:-1] if p not in params]
    if missing or params["X-Amz-Algorithm"] != ALGORITHM:
        raise SigV4Error(
            "AuthorizationQueryParametersError",
            f"Presigned URL is missing or has invalid parameters: {', '.join(missing) or 'alg'}.",
            status=400,
        )
    claims = _claims(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
    )
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError as err:
        raise SigV4Error(
            "AuthorizationQueryParametersError", "X-Amz-Expires must be a number.", status=400
        ) from err
    return replace(claims, presigned=True, expires=expires)


def _claims(credential: str, signed: str, signature: str, timestamp: str | None) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SigV4Error(
            "AuthorizationHeaderMalformed",
            "Credential must be <key>/<date>/<region>/<service>/aws4_request.",
            status=400,
        )
    if not timestamp:
        raise SigV4Error("AccessDenied", "The request carries no x-amz-date or Date header.")
    access_key, date, region, service, _ = parts
    if timestamp[:8] != date:
        raise SigV4Error(
            "AuthorizationHeaderMalformed",
            f"Credential date {date} does not match the request date {timestamp[:8]}.",
            status=400,
        )
    return SignedRequest(
        access_key=access_key,
        timestamp=timestamp,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(h for h in signed.lower().split(";") if h),
        signature=signature,
    )


def _timestamp_from_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT")
    except ValueError:
        return None
    return parsed.strftime(_TIMESTAMP_FORMAT)


def verify(
    request: IncomingRequest,
    claims: SignedRequest,
    secret: str,
    now: dt.datetime | None = None,
) -> None:
    """Check the signature of `request` against `secret`; raise `SigV4Error` when it fails.

    Also checks the request time (15 minutes of skew, or the presigned expiry) and, for a
    signed payload, that the body matches ``x-amz-content-sha256``.
    """
    _check_time(claims, now or dt.datetime.now(dt.UTC))
    expected = compute_signature(request, claims, secret)
    if not hmac.compare_digest(expected, claims.signature):
        raise SigV4Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    if not claims.presigned:
        _check_payload(request)


def compute_signature(request: IncomingRequest, claims: SignedRequest, secret: str) -> str:
    """The SigV4 signature botocore computes for this request with `secret`."""
    signer = _ClaimedHeadersSigner(
        Credentials(claims.access_key, secret), claims.service, claims.region
    )
    signer.claimed_headers = claims.signed_headers
    aws_request = _to_aws_request(request, claims)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


class _ClaimedHeadersSigner(S3SigV4Auth):
    """botocore's S3 signer, restricted to the headers the client says it signed.

    botocore picks "every header but a blacklist" when signing; a verifier must instead use
    exactly the list from ``SignedHeaders`` (proxies add headers; clients may sign fewer).
    """

    claimed_headers: tuple[str, ...] = ()

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        selected = HTTPHeaders()
        for name in self.claimed_headers:
            value = request.headers.get(name)
            if value is None:
                raise SigV4Error(
                    "SignatureDoesNotMatch", f"Signed header {name!r} is missing from the request."
                )
            selected[name] = value
        return selected


def _to_aws_request(request: IncomingRequest, claims: SignedRequest) -> AWSRequest:
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = request.query
    if claims.presigned:
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
        headers["x-amz-content-sha256"] = UNSIGNED_PAYLOAD
    host = headers.get("host", "localhost")
    url = f"http://{host}{request.raw_path}" + (f"?{query}" if query else "")
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    # An http:// URL makes botocore hash the body when no x-amz-content-sha256 was sent.
    aws_request.context["timestamp"] = claims.timestamp
    return aws_request


def _check_time(claims: SignedRequest, now: dt.datetime) -> None:
    try:
        signed_at = dt.datetime.strptime(claims.timestamp, _TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError as err:
        raise SigV4Error("AccessDenied", f"Invalid request date {claims.timestamp!r}.") from err
    if claims.presigned:
        if claims.expires is not None and now > signed_at + dt.timedelta(seconds=claims.expires):
            raise SigV4Error("AccessDenied", "Request has expired.")
        return
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise SigV4Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        )


def _check_payload(request: IncomingRequest) -> None:
    claimed = request.header("x-amz-content-sha256")
    if claimed is None or claimed == UNSIGNED_PAYLOAD or claimed.startswith("STREAMING-"):
        return
    actual = hashlib.sha256(request.body).hexdigest()
    if actual != claimed.lower():
        raise SigV4Error(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            status=400,
        )
