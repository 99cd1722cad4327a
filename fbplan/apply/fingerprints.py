"""Fingerprints of write-only secrets: how fbplan knows a secret changed without storing it.

The file holds, per address and field, a random salt and an scrypt hash of the secret
(slow and salted, so it may be committed beside the spec). Where no fingerprint is known
(a fresh CI runner), the secret is "untracked" and not planned as changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Literal

from fbplan.errors import ConfigError
from fbplan.secret import Secret

FILE_NAME = "fbplan.fingerprints.json"
FORMAT_VERSION = 1
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def _hash(value: str, salt: bytes) -> str:
    return hashlib.scrypt(value.encode(), salt=salt, **_SCRYPT).hex()


def _quick(value: str) -> str:
    """An in-memory comparison key, never written anywhere."""
    return hashlib.sha256(value.encode()).hexdigest()


class FingerprintStore:
    def __init__(self, path: Path, workspace: str = "") -> None:
        self.path = path
        # One file may serve several workspaces (a spec applied with --var env=...):
        # entries are kept per workspace, so one workspace's change never hides another's.
        self.prefix = f"{workspace}/" if workspace else ""
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # one write at a time, each of a newer snapshot
        self._entries: dict[str, dict[str, dict[str, str]]] = self._read()
        # (address, field) -> sha256 of a value found unchanged in this process; lets
        # `record` keep the stored fingerprint instead of paying for a new scrypt hash.
        self._verified: dict[tuple[str, str], str] = {}

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            return dict(data["fingerprints"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(
                f"the fingerprint file {self.path} is unreadable or damaged; "
                "delete it to start over (secrets become untracked)"
            ) from None

    def status(
        self, address: str, field: str, secret: Secret
    ) -> Literal["unchanged", "changed", "untracked"]:
        entry = self._entries.get(self.prefix + address, {}).get(field)
        if not entry:
            return "untracked"
        digest = _hash(secret.reveal(), bytes.fromhex(entry["salt"]))
        if not hmac.compare_digest(digest, entry["hash"]):
            return "changed"
        with self._lock:
            self._verified[(address, field)] = _quick(secret.reveal())
        return "unchanged"

    def record(self, address: str, field: str, secret: Secret) -> None:
        with self._lock:
            if self._verified.get((address, field)) == _quick(secret.reveal()):
                return  # the stored fingerprint already matches this value
        salt = secrets.token_bytes(16)
        entry = {"salt": salt.hex(), "hash": _hash(secret.reveal(), salt)}
        with self._lock:
            self._entries.setdefault(self.prefix + address, {})[field] = entry

    def forget(self, address: str) -> None:
        with self._lock:
            self._entries.pop(self.prefix + address, None)
            for key in [k for k in self._verified if k[0] == address]:
                del self._verified[key]

    def save(self) -> None:
        """Write the file atomically; apply calls this after every step that recorded or
        forgot a fingerprint, so a killed run loses none of the steps it finished."""
        with self._save_lock:
            with self._lock:
                data = {"format_version": FORMAT_VERSION, "fingerprints": self._entries}
                text = json.dumps(data, indent=2, sort_keys=True) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".fingerprints.")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
