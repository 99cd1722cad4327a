"""Environment variable names made from resource addresses, by one rule.

The dotenv secret sink names a key's variables after its address
(`repo.app.api_key.app-rw` -> `APP_API_KEY_APP_RW_SECRET`), `fbplan export` names the
variables an exported spec reads its write-only secrets from (`FB_BUCKET_MEDIA_SECRET`),
and spec validation refuses two keys whose dotenv variables would be the same.
"""

from __future__ import annotations

import re

_NOT_A_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9]+")


def env_name(*parts: str) -> str:
    """The parts joined by `_`, each run of other characters than ASCII letters and digits
    made one `_`, without a leading or trailing `_`, upper-cased."""
    return _NOT_A_NAME_CHARACTER.sub("_", "_".join(parts)).strip("_").upper()


def env_prefix(address: str) -> str:
    """`repo.app.api_key.app-rw` -> `APP_API_KEY_APP_RW` (the dotenv variable prefix)."""
    return env_name(address.removeprefix("repo."))
