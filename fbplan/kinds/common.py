"""Spellings the two API sources disagree on, normalized once for every kind."""

from __future__ import annotations

STORAGE_TYPE_ALIASES = {"AZURE": "BLOB"}
MODE_ALIASES = {"BACKUP": "MIRROR"}


def storage_type(value: str | None) -> str | None:
    """`AZURE` ([D]) and `BLOB` ([C]) are one storage type; fbplan speaks `BLOB`."""
    if value is None:
        return None
    upper = value.upper()
    return STORAGE_TYPE_ALIASES.get(upper, upper)


def repo_mode(value: str | None) -> str | None:
    """`BACKUP` ([D]) is read as `MIRROR` ([C])."""
    if value is None:
        return None
    upper = value.upper()
    return MODE_ALIASES.get(upper, upper)


def bucket_id_of(item: dict) -> str | None:
    """A repo attachment's bucket id, in the new (`bucketId`) or legacy (`unitId`) spelling."""
    nested = item.get("bucket") or item.get("unit") or {}
    return item.get("bucketId") or item.get("unitId") or nested.get("id")
