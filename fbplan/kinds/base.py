"""The small protocol every resource kind implements, and the contexts it runs in.

A kind knows: how its resources are named and addressed, how to build them from the
spec and from the live API (both normalized to the same plain `attrs`), which fields
update in place and which force a replace, and the create/update/delete calls. Nothing
outside `fbplan/kinds/` knows a kind's endpoints or payloads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from fbplan.model import Resource, child_address
from fbplan.secrets.values import Secret

#: Steps of apply in flight at once unless `--parallelism` says otherwise. A 429 is retried
#: by the client after its Retry-After, like any other request.
DEFAULT_PARALLELISM = 8
#: The most `--parallelism` accepts; the backend client keeps this many connections open.
MAX_PARALLELISM = 64
#: Lists of the live read in flight per step apply may have in flight. The API lists AI
#: policies one repo at a time, so a refresh of R repos costs about R / (8 x parallelism)
#: round trips on top of the kinds' own lists: a few, however large the workspace
#: (benchmarks/README.md, issue 9's goal 2). Reads are idempotent GETs, retried on 429.
READS_PER_STEP = 8


def read_parallelism(parallelism: int) -> int:
    """The lists a live read keeps in flight for `--parallelism` (at most MAX_PARALLELISM)."""
    return max(1, min(MAX_PARALLELISM, parallelism * READS_PER_STEP))


#: How the live reader names an object that has no name (a provider key without a
#: description): `id:<uuid>`.
UNNAMED = "id:"
#: A valid spec key (the schema's `$defs/name`): what an address's last segment must be.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def spec_key(name: str, taken: Iterable[str] = ()) -> str:
    """A valid spec key for a backend name that is not one (`my llm` -> `my-llm`), not
    one of `taken` (`my-llm-2`, ...)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:56] or "unnamed"
    key, number = base, 1
    while key in taken:
        number += 1
        key = f"{base}-{number}"
    return key


class Api(Protocol):
    """What a kind needs of the backend client."""

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any: ...
    def post(self, path: str, *, json: Any = None) -> Any: ...
    def put(self, path: str, *, json: Any = None) -> Any: ...
    def delete(self, path: str) -> Any: ...


@dataclass
class LiveContext:
    """What a kind needs to read its live objects: the API, the org and workspace ids, and
    the addresses of objects already read (to turn ids in payloads back into names).

    `fetch` memoizes GETs so that kinds sharing one list response (repos carry their keys)
    cost one request.
    """

    api: Api
    org_id: str | None
    workspace_id: str | None
    addresses: dict[tuple[str, str], str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    workers: int = DEFAULT_PARALLELISM  # GETs in flight at once in `prefetch`
    # (kind, backend name) -> spec key, for entries whose `name:` differs from their key:
    # a live object is addressed by the spec key of the entry that names it.
    keys: dict[tuple[str, str], str] = field(default_factory=dict)
    # export: a name that is not a valid spec key gets a generated one (`spec_key`).
    generate_keys: bool = False
    _cache: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = field(default_factory=dict)

    def fetch(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        key = (path, tuple(sorted((params or {}).items())))
        if key not in self._cache:
            self._cache[key] = self.api.get(path, params=params)
        return self._cache[key]

    def prefetch(self, requests: Iterable[tuple[str, Mapping[str, str] | None]]) -> None:
        """Run the GETs not cached yet at the same time, so that reading a large estate costs
        a few round trips, not one per list."""
        todo = [(path, params) for path, params in requests if not self.cached(path, params)]
        if len(todo) < 2:
            return
        with ThreadPoolExecutor(
            max_workers=max(1, min(self.workers, MAX_PARALLELISM, len(todo)))
        ) as pool:
            list(pool.map(lambda request: self.fetch(*request), todo))

    def cached(self, path: str, params: Mapping[str, str] | None = None) -> bool:
        return (path, tuple(sorted((params or {}).items()))) in self._cache

    def key_of(self, kind: str, name: str, object_id: str | None = None) -> str:
        """The spec key of the live object of `kind` named `name` in the backend: that of
        the entry that matches its id (`match: {id: ...}`) or gives its name."""
        key = self.keys.get((kind, f"{UNNAMED}{object_id}")) or self.keys.get((kind, name))
        if key is not None:
            return key
        taken = {k for (of, _), k in self.keys.items() if of == kind}
        if self.generate_keys and not KEY_PATTERN.fullmatch(name):
            unnamed = name.startswith(UNNAMED)  # known only by id: `kind-<start of id>`
            readable = f"{kind}-{name.removeprefix(UNNAMED)[:8]}" if unnamed else name
            key = self.keys[(kind, name)] = spec_key(readable, taken)
            return key
        # Named like the key of an entry whose `name:` is another: not that entry's object.
        return f"name:{name}" if name in taken else name

    def remember(self, resource: Resource) -> None:
        if resource.id:
            self.addresses[(resource.kind, resource.id)] = resource.address
            self.ids[resource.address] = resource.id

    def address_of(self, kind: str, object_id: str | None) -> str | None:
        if not object_id:
            return None
        return self.addresses.get((kind, object_id))

    def name_of(self, kind: str, object_id: str | None) -> str | None:
        """The spec name of a referenced object, or `id:<uuid>` for one fbplan does not know."""
        if not object_id:
            return None
        address = self.address_of(kind, object_id)
        return address.rsplit(".", 1)[-1] if address else f"{UNNAMED}{object_id}"

    def addresses_of_kind(self, kind: str) -> dict[str, str]:
        """Address -> id of every object of `kind` read so far."""
        return {addr: oid for (k, oid), addr in self.addresses.items() if k == kind}


def kind_of_address(address: str) -> str:
    """The kind an address names: `repo.app.api_key.rw` -> `repo_api_key`."""
    from fbplan.kinds import REGISTRY  # the registry imports this module

    parts = address.split(".")
    top = {k.segment: k for k in REGISTRY.values() if not k.parent_kind}
    kind = top.get(parts[0])
    if kind is not None and len(parts) >= 4:
        for child in REGISTRY.values():
            if child.parent_kind == kind.name and child.segment == parts[2]:
                return child.name
    return kind.name if kind is not None else parts[0]


class UnknownReference(Exception):
    """A desired resource references an address whose id is not known yet."""


@dataclass
class ApplyContext:
    """What a kind needs to write: the API, the org id and the ids known so far (live ones,
    and those of objects created during this apply), safe to share between threads."""

    api: Api
    org_id: str | None
    ids: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def id_of(self, address: str) -> str:
        with self._lock:
            if address not in self.ids:
                raise UnknownReference(address)
            return self.ids[address]

    def set_id(self, address: str, object_id: str) -> None:
        with self._lock:
            self.ids[address] = object_id

    def forget(self, address: str) -> None:
        with self._lock:
            self.ids.pop(address, None)

    def live_context(self) -> LiveContext:
        """A fresh (uncached) read context, used to look an object up after an ambiguous create."""
        with self._lock:
            ids = dict(self.ids)
        ctx = LiveContext(self.api, self.org_id, ids.get("workspace"), ids=ids)
        ctx.addresses = {(kind_of_address(a), object_id): a for a, object_id in ids.items()}
        return ctx


@dataclass(frozen=True)
class Created:
    """What a create returns: the new id and any secret the backend shows only once."""

    id: str
    one_time_secrets: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


SpecPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Reference:
    """A field of a kind's spec entries that names a resource of another kind.

    `path` leads from the entry's body to the name ("[]" steps into every item of a list);
    an empty path means the entry's own name is the reference. A resource's `attrs` keep
    the spec's shape for these fields, so the same declaration finds the references of a
    live resource (export) and of a spec entry (validation). `prefix`: only values with
    this prefix are references, to what follows it (a policy's `scope: repo:NAME`).
    """

    kind: str
    path: tuple[str, ...] = ()
    prefix: str = ""

    def names(self, name: str, body: Any) -> Iterator[tuple[SpecPath, str]]:
        """(path below the entry, referenced name) of each reference in one entry."""
        found = [((), name)] if not self.path else _walk(body, self.path, ())
        for path, value in found:
            if value.startswith(self.prefix):
                yield path, value.removeprefix(self.prefix)


def _walk(node: Any, path: tuple[str, ...], at: SpecPath) -> Iterator[tuple[SpecPath, str]]:
    if not path:
        if isinstance(node, str):
            yield at, node
        return
    step, rest = path[0], path[1:]
    if step == "[]":
        for index, item in enumerate(node if isinstance(node, list) else []):
            yield from _walk(item, rest, (*at, index))
    elif isinstance(node, Mapping) and step in node:
        yield from _walk(node[step], rest, (*at, step))


@dataclass(frozen=True)
class OrgUnique:
    """A field unique in the organization: `field` of the spec (`name`: the resource's
    name), `answer_field` of the organization-wide list answer, and the sentence of the
    conflict, formatted with `value`."""

    field: str
    answer_field: str
    sentence: str


class Kind:
    """Base class of every resource kind. Subclasses set the class variables and implement
    `desired`, `live`, `create`, `update` and `delete`."""

    name: ClassVar[str]  # registry key and Resource.kind, e.g. "bucket"
    segment: ClassVar[str]  # address segment, e.g. "bucket" in bucket.media
    section: ClassVar[str]  # spec section (or field of the parent's entry) and prune key
    label: ClassVar[str]  # human name, e.g. "bucket"
    parent_kind: ClassVar[str | None] = None
    replace_on: ClassVar[frozenset[str]] = frozenset()
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Keys whose secret the backend shows once: a replace means new credentials, and a
    # create needs a secret sink.
    issues_credentials: ClassVar[bool] = False
    # The code of the organization quota capability that counts this kind's objects
    # (`GET /user/quota`); None: no quota limits how many there may be.
    quota_capability: ClassVar[str | None] = None
    # The one kind every other lives in (the workspace): no named section, no prune key.
    root: ClassVar[bool] = False
    # Fields of an entry that name other resources (checked by validation, used by export).
    references: ClassVar[tuple[Reference, ...]] = ()
    # Fields whose values are unique in the whole organization, not only in the workspace:
    # a create that takes one another workspace uses is blocked at plan (name-conflict).
    org_unique: ClassVar[tuple[OrgUnique, ...]] = ()
    # The backend refuses to delete one while another object uses it: a delete the plan
    # makes while a live object it leaves alone still uses it is blocked (in-use).
    delete_refused_in_use: ClassVar[bool] = False
    # Reading needs the organization id (policies at organization scope).
    needs_org: ClassVar[bool] = False
    # Its update accepts a new name (per the contract): a rename (`renamed_from:`) is an
    # update in place, not a replace.
    renames_in_place: ClassVar[bool] = False
    # A live object may be adopted by id (`match: {id: ...}`): it may have no name at all.
    adopt_by_id: ClassVar[bool] = False
    # Listing costs a request per parent object: read only when the spec declares or
    # prunes some (policies, per repo).
    read_on_demand: ClassVar[bool] = False
    # What the data plane serves (Bridge Nodes, gateway): smoke checks read these kinds.
    data_plane: ClassVar[bool] = False

    @property
    def named_section(self) -> bool:
        """Whether the kind is a top-level spec section of named entries."""
        return not self.root and not self.parent_kind

    @property
    def prune_key(self) -> str | None:
        """The key of `prune:` that makes the spec authoritative for this kind."""
        return None if self.root else self.section

    def address(self, name: str, parent: str | None = None) -> str:
        if parent:
            return child_address(parent, self.segment, name)
        return f"{self.segment}.{name}"

    def spec_entries(self, spec: Mapping[str, Any]) -> Iterator[tuple[SpecPath, str, Any]]:
        """(path, name, body) of each entry of this kind in the spec data."""
        section = spec.get(self.section)
        for name, body in (section if isinstance(section, Mapping) else {}).items():
            yield (self.section, name), name, body

    def declared_addresses(self, spec: Mapping[str, Any]) -> list[str]:
        """The address of each entry of this kind in the spec data (valid or not)."""
        return [self.address(name) for _, name, _ in self.spec_entries(spec)]

    def declared(self, spec: Mapping[str, Any]) -> bool:
        return any(True for _ in self.spec_entries(spec))

    def exports_secret(self, attrs: Mapping[str, Any], field: str) -> bool:
        """Whether an exported entry needs `field` (one of `secret_fields`) to be provided."""
        return True

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        raise NotImplementedError

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        raise NotImplementedError

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        """The GETs `live` will make with what the context knows now (for prefetching)."""
        return []

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        raise NotImplementedError

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        raise NotImplementedError

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        raise NotImplementedError

    def replace_reasons(
        self, before: Mapping[str, Any], after: Mapping[str, Any], changed: Iterable[str]
    ) -> list[str]:
        """Why a change cannot be made in place (empty: it can)."""
        return [f"{f} cannot change in place" for f in sorted(changed) if f in self.replace_on]

    def prunable(self, live: Resource) -> bool:
        """Whether `prune` may delete this unmanaged live object."""
        return True

    def belongs(self, live: Resource, desired: Resource | None) -> bool:
        """Whether a live object is this spec's business at all (see AI policies)."""
        return True

    def find(self, ctx: ApplyContext, desired: Resource) -> Resource | None:
        """Look an object up by identity (after a create whose outcome is unknown)."""
        live_ctx = ctx.live_context()
        live_ctx.keys = {(self.name, desired.name): desired.key}
        for resource in self.live(live_ctx):
            if resource.address == desired.address:
                return resource
        return None


def backend_name(key: str, body: Mapping[str, Any]) -> str:
    """An entry's name in the backend: its `name:`, or else its spec key."""
    return str(body.get("name") or key)


def secrets_of(body: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Secret]:
    """The Secret values of `fields` present in a spec body."""
    return {f: body[f] for f in fields if isinstance(body.get(f), Secret)}


def drop_none(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


def update_body(
    payload: Mapping[str, Any], clearable: Mapping[str, str], live: Resource
) -> dict[str, Any]:
    """An update body that the API contract accepts and that clears what the spec dropped.

    The contract has no null for optional string fields (`field?: string`), so a field the
    spec no longer sets is sent as an empty string where the live object still has a value
    (`clearable` maps attribute names to payload names), and left out otherwise.
    """
    body = dict(payload)
    for attr, api_field in clearable.items():
        if body.get(api_field) is None and live.attrs.get(attr) is not None:
            body[api_field] = ""
    return drop_none(body)


class WorkspaceListKind(Kind):
    """A kind whose objects the API lists per workspace in one call (`GET path?workspaceId=`)
    and deletes by id (`DELETE path/{id}`): provider keys, buckets, AI LLMs, repos."""

    path: ClassVar[str]  # e.g. "/bucket"
    list_field: ClassVar[str]  # the field of the list response, e.g. "buckets"

    def from_api(self, ctx: LiveContext, item: Mapping[str, Any]) -> Resource:
        raise NotImplementedError

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        return [(self.path, {"workspaceId": ctx.workspace_id})] if ctx.workspace_id else []

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        if not ctx.workspace_id:
            return
        body = ctx.fetch(self.path, {"workspaceId": ctx.workspace_id})
        for item in body.get(self.list_field, []):
            yield self.from_api(ctx, item)

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"{self.path}/{live.id}")
