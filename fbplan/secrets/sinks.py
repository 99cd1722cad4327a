"""Secret sinks: where the secrets the backend shows only once are kept.

A sink is written before apply reports a key as created. Dotenv and JSON files are
written 0600 and merged atomically (existing entries are kept; the file is replaced in
one rename; a path that is a symbolic link is written through to its target, and one
whose link dangles or loops is refused); a file that cannot be read or written (a folder,
no permission) is a `ConfigError` naming the file and the OS reason. AWS Secrets Manager
stores one secret per key address; its client is made at the first read or write, so a
plan never needs AWS, and every AWS failure is a `ConfigError` naming the sink and the
secret. No sink stores an empty secret.

Each entry records the backend and workspace it belongs to (its `Owner`): the same spec run
against two backends must not overwrite one environment's one-time secret with another's,
so `foreign_entries` finds what a run would overwrite before any key is made. Entries
written before owners were recorded belong to anyone.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from fbplan.errors import ConfigError
from fbplan.files import MAX_SINK_BYTES, FileRefused, read_bounded
from fbplan.model import Resource
from fbplan.secrets.envnames import env_prefix
from fbplan.secrets.values import redact, register

T = TypeVar("T")


@dataclass(frozen=True)
class Owner:
    """The backend (its URL, or `local` for the embedded emulator) and the workspace a sink
    entry belongs to."""

    backend: str
    workspace: str

    def fields(self) -> dict[str, str]:
        return {"backend": self.backend, "workspace": self.workspace}

    def describe(self) -> str:
        return f"workspace {self.workspace} on {backend_name(self.backend)}"


def backend_name(backend: str) -> str:
    """How messages name a backend: its URL, or the embedded emulator of --local."""
    return "the embedded emulator (--local)" if backend == "local" else backend


def owner_of(entry: Mapping[str, str]) -> Owner | None:
    """Who a read entry belongs to; None for an entry that does not say (written before
    owners were recorded)."""
    if not entry.get("backend"):
        return None
    return Owner(entry["backend"], entry.get("workspace", ""))


class SecretSink(Protocol):
    description: str
    local: bool  # a file on this machine: cheap to read at plan time
    owner: Owner | None  # recorded with every entry written

    def write(self, address: str, values: Mapping[str, str]) -> None: ...

    def read(self, address: str) -> dict[str, str] | None: ...

    def remove(self, address: str) -> None: ...

    def check_writable(self) -> None: ...


__all__ = [
    "AwsSecretsManagerSink",
    "DotenvSink",
    "JsonSink",
    "Owner",
    "SecretSink",
    "env_prefix",
    "foreign_entries",
    "holds_secret_of",
    "sink_from_spec",
]


def _with_owner(values: Mapping[str, str], owner: Owner | None) -> dict[str, str]:
    return {**values, **(owner.fields() if owner else {})}


class _GroupCommit(Generic[T]):
    """Writes to one file, made together: a write that arrives while another is being made
    joins the next one, and every caller returns once the file holds its own change (or
    raises what that write raised). Keys created 16 at a time cost a few rewrites of the
    file, not one each under a lock, and no secret is reported kept before it is."""

    def __init__(self, flush: Callable[[list[T]], None]) -> None:
        self._flush = flush
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._busy = False
        self._next = 0  # the batch that new changes join
        self._done = 0  # batches below this one are written
        self._errors: dict[int, BaseException] = {}

    def submit(self, change: T) -> None:
        with self._cond:
            batch = self._next
            self._pending.append(change)
            while self._done <= batch:
                if self._busy:
                    self._cond.wait()
                else:
                    self._write_pending()
            error = self._errors.get(batch)
        if error is not None:
            raise error

    def _write_pending(self) -> None:
        """Called holding the condition; writes without holding it."""
        changes, self._pending = self._pending, []
        current, self._next, self._busy = self._next, self._next + 1, True
        self._cond.release()
        try:
            self._flush(changes)
        except BaseException as error:
            self._errors[current] = error
        finally:
            self._cond.acquire()
            self._busy, self._done = False, current + 1
            self._cond.notify_all()


class _Unchanged(Generic[T]):
    """What was last parsed from a file, reused while the file is the same (inode, size and
    modification time): a plan checks every key against the sink, and parsing the whole
    file for each key costs the square of their number."""

    def __init__(self) -> None:
        self._stamp: tuple[int, int, int] | None = None
        self._value: T | None = None

    def get(self, path: Path, parse: Callable[[], T]) -> T:
        try:
            stat = path.stat()
            stamp: tuple[int, int, int] | None = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:  # missing (or below a file): parse says what that means
            stamp = None
        if stamp is None or stamp != self._stamp or self._value is None:
            self._value, self._stamp = parse(), stamp
        return self._value


def _require_secret(address: str, values: Mapping[str, str]) -> None:
    """A sink is the only copy of a secret shown once: an empty one is a bug upstream."""
    if not values.get("secret"):
        raise ValueError(f"the secret of {address} is empty; the sink refuses to store it")


def _through_links(path: Path, description: str) -> Path:
    """The file a sink path names: a symbolic link is followed to its target (made if it
    does not exist yet, as a shell redirection would), so that the target is written and
    the link is never replaced by a regular file; a link that loops or points into a
    missing folder is refused."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except OSError as error:
        target = Path(os.path.realpath(path))
        if error.errno != errno.ELOOP and target.parent.is_dir():
            return target
        why = "loops" if error.errno == errno.ELOOP else "points into a folder that does not exist"
        raise ConfigError(
            f"the secret sink, the {description}, is a symbolic link that {why}; point "
            "secrets.sink.path at a file, or the link at one"
        ) from None


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically; the file is 0600 from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_text(path: Path) -> str | None:
    """The text of `path`, or None when nothing is there yet (the write says why it cannot
    make the file, if it cannot). Only a regular file of at most `MAX_SINK_BYTES` is read:
    a FIFO or a device in its place is refused, never waited on."""
    if not path.exists():
        return None
    if path.is_dir():  # reported by `_file_errors`, with what to do about it
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        return read_bounded(path, MAX_SINK_BYTES).decode("utf-8")
    except FileRefused as refused:
        raise ConfigError(f"cannot read the secret sink {path}: {refused}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the secret sink {path} is not UTF-8 text") from None


@contextmanager
def _file_errors(path: Path, description: str, verb: str) -> Iterator[None]:
    """OS failures on a file sink as one `ConfigError` sentence naming the file and why."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        where = Path(error.filename) if error.filename else path
        if where != path and not where.name.startswith(f".{path.name}."):
            reason += f": {where}"  # a folder on the way, not the file itself
        if isinstance(error, IsADirectoryError):
            reason += " (secrets.sink.path must name a file, not a folder)"
        raise ConfigError(f"cannot {verb} the secret sink, the {description}: {reason}") from error


def _variable(line: str) -> str | None:
    """The variable a dotenv line sets (`NAME=...` or `export NAME=...`), or None."""
    name, sep, _ = line.partition("=")
    name = name.strip().removeprefix("export ").strip()
    return name if sep and not name.startswith("#") else None


def _check_writable(path: Path, description: str) -> None:
    """Whether a file sink can be written, checked before any key is created: a key whose
    secret cannot be kept must not be made."""
    problem = unwritable(_through_links(path, description))
    if problem:
        if problem == "it is a folder":
            problem += " (secrets.sink.path must name a file)"
        raise ConfigError(f"the secret sink, the {description}, cannot be written: {problem}")


def unwritable(path: Path) -> str | None:
    """Why the file `path` could not be written (made or replaced) now, or None if it can."""
    existing = path if path.exists() else next(p for p in path.parents if p.exists())
    if path.is_dir():
        return "it is a folder"
    if not existing.is_dir() and existing != path:
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK):
        return "permission denied"
    return None


class DotenvSink:
    """`KEY=value` lines; each key gives `<PREFIX>_KEY_ID` and `<PREFIX>_SECRET`, and
    `<PREFIX>_BACKEND` and `<PREFIX>_WORKSPACE` say whose it is."""

    OWNER_SUFFIXES = ("BACKEND", "WORKSPACE")

    def __init__(self, path: Path, owner: Owner | None = None) -> None:
        self.path = path
        self.owner = owner
        self.local = True
        self.description = f"dotenv file {path}"
        self._lock = threading.Lock()
        self._writes = _GroupCommit(self._rewrite)
        self._read: _Unchanged[dict[str, str]] = _Unchanged()

    def _entries(self) -> dict[str, str]:
        entries = {}
        for line in (_read_text(self.path) or "").splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                entries[name.strip()] = value.strip().strip('"')
        return entries

    def write(self, address: str, values: Mapping[str, str]) -> None:
        """Replace this key's two lines; every other line (comments, other settings and
        their quoting) is kept exactly as written."""
        _require_secret(address, values)
        prefix = env_prefix(address)
        ours = {
            f"{prefix}_KEY_ID": values.get("key", ""),
            f"{prefix}_SECRET": values.get("secret", ""),
        }
        for name, value in (self.owner.fields() if self.owner else {}).items():
            ours[f"{prefix}_{name.upper()}"] = value
        self._writes.submit((address, ours))

    def remove(self, address: str) -> None:
        """Drop the lines of a key that was deleted for good."""
        self._rewrite([(address, {})])

    def _rewrite(self, changes: list[tuple[str, Mapping[str, str]]]) -> None:
        latest = dict(changes)
        ends = ("KEY_ID", "SECRET", *self.OWNER_SUFFIXES)
        names = {f"{env_prefix(address)}_{end}" for address in latest for end in ends}
        with self._lock, _file_errors(self.path, self.description, "write"):
            text = _read_text(self.path)
            if text is None and not any(latest.values()):
                return
            kept = [line for line in (text or "").splitlines() if _variable(line) not in names]
            new = "".join(f"{line}\n" for line in kept)
            for ours in latest.values():
                new += "".join(f'{name}="{value}"\n' for name, value in ours.items())
            _write_private(_through_links(self.path, self.description), new)

    def check_writable(self) -> None:
        _check_writable(self.path, self.description)

    def read(self, address: str) -> dict[str, str] | None:
        prefix = env_prefix(address)
        with self._lock, _file_errors(self.path, self.description, "read"):
            entries = self._read.get(self.path, self._entries)
        if f"{prefix}_SECRET" not in entries:
            return None
        register(entries[f"{prefix}_SECRET"])
        entry = {"key": entries.get(f"{prefix}_KEY_ID", ""), "secret": entries[f"{prefix}_SECRET"]}
        for suffix in self.OWNER_SUFFIXES:
            if f"{prefix}_{suffix}" in entries:
                entry[suffix.lower()] = entries[f"{prefix}_{suffix}"]
        return entry


class JsonSink:
    """One JSON object: address -> {key, secret, backend, workspace}."""

    def __init__(self, path: Path, owner: Owner | None = None) -> None:
        self.path = path
        self.owner = owner
        self.local = True
        self.description = f"JSON file {path}"
        self._lock = threading.Lock()
        self._writes = _GroupCommit(self._write_many)
        self._read: _Unchanged[dict[str, Any]] = _Unchanged()

    def _entries(self) -> dict[str, Any]:
        text = _read_text(self.path)
        if text is None:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(f"the secret file {self.path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise ConfigError(f"the secret file {self.path} must hold a JSON object")
        return data

    def write(self, address: str, values: Mapping[str, str]) -> None:
        _require_secret(address, values)
        self._writes.submit((address, dict(values)))

    def _write_many(self, changes: list[tuple[str, dict[str, str]]]) -> None:
        with self._lock, _file_errors(self.path, self.description, "write"):
            entries = self._entries()
            entries.update((a, _with_owner(values, self.owner)) for a, values in changes)
            self._save(entries)

    def _save(self, entries: Mapping[str, Any]) -> None:
        text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
        _write_private(_through_links(self.path, self.description), text)

    def remove(self, address: str) -> None:
        """Drop the entry of a key that was deleted for good."""
        with self._lock, _file_errors(self.path, self.description, "write"):
            entries = self._entries()
            if entries.pop(address, None) is not None:
                self._save(entries)

    def check_writable(self) -> None:
        _check_writable(self.path, self.description)

    def read(self, address: str) -> dict[str, str] | None:
        with self._lock, _file_errors(self.path, self.description, "read"):
            entry = self._read.get(self.path, self._entries).get(address)
        if not entry:
            return None
        register(entry.get("secret", ""))
        return dict(entry)


class AwsSecretsManagerSink:
    """One secret per key, named `<prefix>/<address>`, holding `{key, secret}` as JSON.

    The boto3 client is made at the first read or write (`client` injects one): building
    a sink never needs a region or credentials.
    """

    def __init__(
        self,
        prefix: str,
        region: str | None = None,
        client: Any = None,
        owner: Owner | None = None,
        description: str = "",
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.owner = owner
        self.region = region
        self.local = False
        self.description = description or f"AWS Secrets Manager under {self.prefix}/"
        self._client = client
        self._lock = threading.Lock()

    def _name(self, address: str) -> str:
        return f"{self.prefix}/{address}"

    def _api(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3

                self._client = boto3.client("secretsmanager", region_name=self.region)
            return self._client

    def write(self, address: str, values: Mapping[str, str]) -> None:
        _require_secret(address, values)
        self.put(self._name(address), _with_owner(values, self.owner))

    def put(self, name: str, values: Mapping[str, str]) -> None:
        """Store `values` as one JSON object in the secret `name`, made if it is missing."""
        body = json.dumps(dict(values))
        with self._aws_errors("store", name):
            client = self._api()
            try:
                client.put_secret_value(SecretId=name, SecretString=body)
            except ClientError as error:
                if _error_code(error) != "ResourceNotFoundException":
                    raise
                client.create_secret(Name=name, SecretString=body)

    def read(self, address: str) -> dict[str, str] | None:
        name = self._name(address)
        with self._aws_errors("read", name):
            try:
                answer = self._api().get_secret_value(SecretId=name)
            except ClientError as error:
                if _error_code(error) == "ResourceNotFoundException":
                    return None
                raise
        values = _secret_values(answer.get("SecretString"))
        if values is None:
            raise ConfigError(
                f"the {self.description} holds no JSON object with key and secret in the "
                f'secret {name}; delete it or store {{"key": ..., "secret": ...}} there'
            )
        register(values.get("secret", ""))
        return values

    def remove(self, address: str) -> None:
        """Schedule the secret of a key deleted for good for deletion (AWS keeps it for its
        recovery window, so a mistake can still be undone)."""
        name = self._name(address)
        with self._aws_errors("delete", name):
            try:
                self._api().delete_secret(SecretId=name)
            except ClientError as error:
                if _error_code(error) != "ResourceNotFoundException":
                    raise

    def check_writable(self) -> None:
        """Not checked ahead: AWS permissions show only on the first write."""

    @contextmanager
    def _aws_errors(self, verb: str, name: str) -> Iterator[None]:
        """AWS failures as one `ConfigError` sentence naming this sink and the secret."""
        try:
            yield
        except (BotoCoreError, ClientError) as error:
            reason = redact(_aws_reason(error))
            raise ConfigError(
                f"the {self.description} could not {verb} the secret {name}: {reason}"
            ) from None


def _error_code(error: ClientError) -> str:
    return str((error.response.get("Error") or {}).get("Code") or "")


def _aws_reason(error: Exception) -> str:
    if isinstance(error, NoRegionError):
        return "no AWS region is configured (set region in secrets.sink, or AWS_DEFAULT_REGION)"
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials were found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(error, ClientError):
        detail = error.response.get("Error") or {}
        code, message = detail.get("Code") or "error", detail.get("Message") or ""
        return f"AWS answered {code}" + (f" ({message})" if message else "")
    return str(error).rstrip(".")


def _secret_values(text: Any) -> dict[str, str] | None:
    """The `{key, secret}` object a stored secret holds, or None if it holds something else."""
    try:
        values = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(values, dict) or not isinstance(values.get("secret"), str):
        return None
    return {str(k): str(v) for k, v in values.items()}


def sink_from_spec(
    config: Mapping[str, Any] | None, root: Path, owner: Owner | None = None
) -> SecretSink | None:
    """The sink a spec's `secrets.sink` describes; paths are relative to the spec's folder.
    `owner` is recorded with every entry written (None: the sink only reads)."""
    if not config:
        return None
    kind = config.get("type")
    if kind == "dotenv":
        return DotenvSink(Path(os.path.normpath(root / config["path"])), owner)
    if kind == "json":
        return JsonSink(Path(os.path.normpath(root / config["path"])), owner)
    if kind == "aws_secretsmanager":
        return AwsSecretsManagerSink(config["prefix"], config.get("region"), owner=owner)
    raise ConfigError(f"unknown secret sink type {kind!r}; use dotenv, json or aws_secretsmanager")


def holds_secret_of(sink: SecretSink | None) -> Callable[[Resource], bool] | None:
    """For a local sink, whether it holds the secret of a live key: an entry of this key
    (same key id) that belongs to this run's backend and workspace. A key it does not hold
    was made elsewhere, or its secret was lost: nobody can hand it to an application, so
    the planner replaces it. Remote sinks are not read at plan time (None)."""
    if sink is None or not sink.local:
        return None

    def holds(live: Resource) -> bool:
        entry = sink.read(live.address)
        if entry is None:
            return False
        key_id = live.extra.get("key_id")
        owner = owner_of(entry)
        return (not key_id or entry.get("key") == key_id) and (
            owner is None or sink.owner is None or owner == sink.owner
        )

    return holds


def foreign_entries(sink: SecretSink, addresses: Iterable[str]) -> dict[str, str]:
    """A sentence per entry of `addresses` that belongs to another backend or workspace
    than the sink's owner: writing a new secret there would lose that one."""
    problems = {}
    for address in addresses:
        entry = sink.read(address)
        owner = owner_of(entry) if entry else None
        if owner is None or sink.owner is None or owner == sink.owner:
            continue
        problems[address] = (
            f"the {sink.description} holds the secret of {address} for {owner.describe()}, and "
            f"this run, for {sink.owner.describe()}, would overwrite it; give each environment "
            "its own sink path (e.g. secrets.sink.path: .fbplan/${var:env}-secrets.env, with "
            "--var env=...)"
        )
    return problems
