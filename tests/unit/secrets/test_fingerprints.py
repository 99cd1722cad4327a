"""Fingerprints: slow salted hashes, each distinct value hashed once a run, a few at a time."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from fbplan.errors import ConfigError
from fbplan.secrets import fingerprints
from fbplan.secrets.fingerprints import HASH_WORKERS, FingerprintStore
from fbplan.secrets.values import Secret


class ScryptSpy:
    """Counts the real scrypt calls, and the most that ran at the same time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        self._real = hashlib.scrypt
        monkeypatch.setattr(fingerprints.hashlib, "scrypt", self)

    def __call__(self, *args: object, **kwargs: object) -> bytes:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.01)  # long enough for parallel callers to overlap
            return self._real(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


def _buckets(count: int) -> list[str]:
    return [f"bucket.b{i}" for i in range(count)]


def test_a_shared_secret_is_hashed_once_when_recorded_and_once_when_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ScryptSpy(monkeypatch)
    path = tmp_path / "fp.json"
    store = FingerprintStore(path, "ws")
    for address in _buckets(20):
        store.record(address, "secret", Secret("shared-bucket-secret"))
    store.save()
    assert spy.calls == 1

    again = FingerprintStore(path, "ws")
    items = [(a, "secret", Secret("shared-bucket-secret")) for a in _buckets(20)]
    again.warm(items)
    assert [again.status(*item) for item in items] == ["unchanged"] * 20
    assert spy.calls == 2


def test_a_changed_value_is_seen_on_every_entry_that_shared_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "fp.json"
    store = FingerprintStore(path)
    for address in _buckets(3):
        store.record(address, "secret", Secret("old-value"))
    store.save()
    again = FingerprintStore(path)
    assert again.status("bucket.b0", "secret", Secret("old-value")) == "unchanged"
    assert again.status("bucket.b1", "secret", Secret("new-value")) == "changed"
    assert again.status("bucket.b2", "secret", Secret("")) == "changed"


def test_only_equal_values_share_a_salt_and_the_file_holds_slow_hashes_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fp.json"
    store = FingerprintStore(path)
    store.record("bucket.a", "secret", Secret("value-one"))
    store.record("bucket.b", "secret", Secret("value-one"))
    store.record("bucket.c", "secret", Secret("value-two"))
    store.save()
    text = path.read_text()
    assert "value-one" not in text and "value-two" not in text
    entries = json.loads(text)["fingerprints"]
    a, b, c = (entries[f"bucket.{n}"]["secret"] for n in "abc")
    assert a == b
    assert c["salt"] != a["salt"]
    for entry, value in ((a, "value-one"), (c, "value-two")):
        # An offline guess costs a full scrypt (16 MiB, n=2**14) per salt: no fast hash.
        slow = hashlib.scrypt(
            value.encode(), salt=bytes.fromhex(entry["salt"]), n=2**14, r=8, p=1, dklen=32
        )
        assert entry["hash"] == slow.hex()
        assert entry["hash"] != hashlib.sha256(value.encode()).hexdigest()


def test_hashes_run_in_parallel_but_never_more_than_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = ScryptSpy(monkeypatch)
    store = FingerprintStore(tmp_path / "fp.json")
    threads = [
        threading.Thread(target=store.record, args=(a, "secret", Secret(f"distinct-{a}")))
        for a in _buckets(3 * HASH_WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert spy.calls == 3 * HASH_WORKERS
    assert spy.most <= HASH_WORKERS


def test_a_fingerprint_file_that_is_not_a_regular_file_is_a_sentence(tmp_path: Path) -> None:
    fifo = tmp_path / "fbplan.fingerprints.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as info:
        FingerprintStore(fifo, "ws")
    assert str(info.value) == (
        f"the fingerprint file {fifo} cannot be read: it is a named pipe (FIFO), not a regular "
        "file; delete it to start over (secrets become untracked)"
    )


def test_a_fingerprint_file_over_the_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fbplan.fingerprints.json"
    path.write_text(json.dumps({"fingerprints": {}}) + " " * 200)
    monkeypatch.setattr(fingerprints, "MAX_FINGERPRINT_BYTES", 100)
    with pytest.raises(ConfigError, match="larger than the 100-byte limit"):
        FingerprintStore(path, "ws")


def test_no_fingerprint_file_yet_is_an_empty_store(tmp_path: Path) -> None:
    store = FingerprintStore(tmp_path / "absent.json", "ws")
    assert store.status("bucket.b", "secret", Secret("x")) == "untracked"


def test_saves_at_the_same_time_share_writes_and_each_returns_with_its_entry_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprints, "_SCRYPT", {"n": 2, "r": 1, "p": 1, "dklen": 32})
    path = tmp_path / "fp.json"
    store = FingerprintStore(path, "ws")
    writes: list[str] = []
    real_replace = os.replace

    def slow_replace(source: str, target: Path) -> None:
        writes.append(source)
        time.sleep(0.02)  # saves asked for meanwhile wait, and join the next write
        real_replace(source, target)

    monkeypatch.setattr(fingerprints.os, "replace", slow_replace)
    start = threading.Barrier(16, timeout=10)
    missing: list[str] = []

    def record_and_save(address: str) -> None:
        start.wait()
        store.record(address, "secret", Secret(f"value of {address}"))
        store.save()
        if f"ws/{address}" not in json.loads(path.read_text())["fingerprints"]:
            missing.append(address)

    threads = [threading.Thread(target=record_and_save, args=(a,)) for a in _buckets(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert missing == []
    assert 1 <= len(writes) < 16
    stored = FingerprintStore(path, "ws")
    assert all(
        stored.status(a, "secret", Secret(f"value of {a}")) == "unchanged" for a in _buckets(16)
    )
