"""Fingerprints of write-only secrets: how fbplan knows a secret changed without storing it.

The file holds, per address and field, a random salt and an scrypt hash of the secret
(slow and salted, so it may be committed beside the spec). Where no fingerprint is known
(a fresh CI runner), the secret is "untracked" and not planned as changed.

Cost: each hash takes tens of milliseconds and 16 MiB (scrypt n=2**14, r=8), on purpose:
a guess at a low-entropy secret costs an attacker the same. So a run hashes each distinct
(salt, value) pair once, hashes at most `HASH_WORKERS` at a time (bounded memory, in
parallel: hashlib releases the GIL), and gives every entry recorded in one run for one value
the same salt: a hundred buckets sharing a secret cost one hash, not a hundred. The price
is that the file shows which of those entries share a value, never what the value is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from fbplan.errors import ConfigError
from fbplan.files import MAX_FINGERPRINT_BYTES, FileRefused, read_bounded
from fbplan.secrets.values import Secret

FILE_NAME = "fbplan.fingerprints.json"
FORMAT_VERSION = 1
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}  # 128 * r * n bytes = 16 MiB a hash
#: Hashes computed at once, whatever --parallelism is: 4 x 16 MiB at most. They run on
#: these threads only: the C library keeps a freed 16 MiB buffer in the arena of the thread
#: that used it, so hashing on each of 16 apply threads would hold 16 of them.
HASH_WORKERS = max(1, min(4, os.cpu_count() or 1))
_hashers = ThreadPoolExecutor(max_workers=HASH_WORKERS, thread_name_prefix="fbplan-scrypt")

Status = Literal["unchanged", "changed", "untracked"]


def _hash(value: str, salt: bytes) -> str:
    return _hashers.submit(_scrypt, value, salt).result()


def _scrypt(value: str, salt: bytes) -> str:
    return hashlib.scrypt(value.encode(), salt=salt, **_SCRYPT).hex()


class _Once:
    """Each key's value computed once, however many threads ask for it at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[object, Future[str]] = {}

    def get(self, key: object, compute: Callable[[], str]) -> str:
        with self._lock:
            future = self._results.get(key)
            mine = future is None
            if future is None:
                future = self._results[key] = Future()
        if mine:
            try:
                future.set_result(compute())
            except BaseException as error:
                future.set_exception(error)
                raise
        return future.result()


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
        self._changes = 0  # saves asked for; the file holds the changes of the first `_saved`
        self._saved = 0
        self._entries: dict[str, dict[str, dict[str, str]]] = self._read()
        # (address, field) -> sha256 of a value found unchanged in this process; lets
        # `record` keep the stored fingerprint instead of paying for a new scrypt hash.
        self._verified: dict[tuple[str, str], str] = {}
        self._hashes = _Once()  # (salt, sha256 of value) -> scrypt hash, this run
        self._salts: dict[str, str] = {}  # sha256 of value -> the salt it was hashed with

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            data = json.loads(read_bounded(self.path, MAX_FINGERPRINT_BYTES))
            return dict(data["fingerprints"])
        except FileRefused as refused:
            if refused.missing:
                return {}
            raise ConfigError(
                f"the fingerprint file {self.path} cannot be read: {refused}; "
                "delete it to start over (secrets become untracked)"
            ) from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"the fingerprint file {self.path} is unreadable or damaged; "
                "delete it to start over (secrets become untracked)"
            ) from None

    def _digest(self, value: str, salt_hex: str) -> str:
        key = (salt_hex, _quick(value))
        return self._hashes.get(key, lambda: _hash(value, bytes.fromhex(salt_hex)))

    def status(self, address: str, field: str, secret: Secret) -> Status:
        entry = self._entries.get(self.prefix + address, {}).get(field)
        if not entry:
            return "untracked"
        digest = self._digest(secret.reveal(), entry["salt"])
        if not hmac.compare_digest(digest, entry["hash"]):
            return "changed"
        with self._lock:
            self._verified[(address, field)] = _quick(secret.reveal())
            self._salts.setdefault(_quick(secret.reveal()), entry["salt"])  # same value only
        return "unchanged"

    def warm(self, items: Iterable[tuple[str, str, Secret]]) -> None:
        """Hash what `status` will need for these (address, field, secret), in parallel, so
        that a plan pays for its fingerprints in 1/HASH_WORKERS of the time."""
        todo = [item for item in items if self._entries.get(self.prefix + item[0], {}).get(item[1])]
        if len(todo) < 2:  # no pool for one (the plan warms on a thread of its own)
            for item in todo:
                self.status(*item)
            return
        with ThreadPoolExecutor(max_workers=HASH_WORKERS) as pool:
            list(pool.map(lambda item: self.status(*item), todo))

    def record(self, address: str, field: str, secret: Secret) -> None:
        value = secret.reveal()
        with self._lock:
            if self._verified.get((address, field)) == _quick(value):
                return  # the stored fingerprint already matches this value
            salt_hex = self._salts.setdefault(_quick(value), secrets.token_bytes(16).hex())
        entry = {"salt": salt_hex, "hash": self._digest(value, salt_hex)}
        with self._lock:
            self._entries.setdefault(self.prefix + address, {})[field] = entry

    def forget(self, address: str) -> None:
        with self._lock:
            self._entries.pop(self.prefix + address, None)
            for key in [k for k in self._verified if k[0] == address]:
                del self._verified[key]

    def save(self) -> None:
        """Write the file atomically; apply calls this after every step that recorded or
        forgot a fingerprint, so a killed run loses none of the steps it finished.

        Saves made at the same time share a write: one that finds its changes already
        written by another (which started after them) returns at once."""
        with self._lock:
            self._changes += 1
            mine = self._changes
        with self._save_lock:
            if self._saved >= mine:
                return
            with self._lock:
                data = {"format_version": FORMAT_VERSION, "fingerprints": self._entries}
                text = json.dumps(data, indent=2, sort_keys=True) + "\n"
                snapshot = self._changes
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".fingerprints.")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
            self._saved = snapshot
