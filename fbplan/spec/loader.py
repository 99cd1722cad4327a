"""Load a spec: a YAML file or a folder of them, into one validated `Spec`.

    path ─► read files ─► YAML to data (bounds, duplicate keys) ─► merge the files
         ─► interpolate (${env:} ${file:} ${var:}, secret fields) ─► validate ─► Spec

Each problem found at any stage points at the file:line:column the user wrote: the
`Marks` of a spec look a path up when a problem is reported (reading the file again
then, once), so that loading a large valid spec records no mark at all. All
problems are collected; `load_spec` raises one `SpecError` carrying them all, and never a
traceback for a user mistake.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fbplan.errors import SpecError, SpecProblem
from fbplan.files import MAX_SPEC_BYTES, FileRefused, read_bounded
from fbplan.kinds import NAMED_SECTIONS, PRUNE_KEYS
from fbplan.kinds.workspace import workspace_name, workspace_protected
from fbplan.spec.fastyaml import Place, TooManyNodes, Unusual, plain_places, read_plain_yaml
from fbplan.spec.interpolate import interpolate
from fbplan.spec.validate import validate

PathKey = tuple[str | int, ...]

#: Sections that may appear in several files of a folder if every file says the same thing.
AGREED_SECTIONS = ("version", "workspace")
#: Prune switches, one per kind (the keys of `prune:` when it is a mapping): the registry's.
PRUNE_KINDS = PRUNE_KEYS

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_NODES = 100_000  # guards against alias bombs ("billion laughs")
#: Nodes a spec file may hold as written; counted while reading, before composing.
MAX_SPEC_NODES = 200_000
_TOO_MANY_NODES = f"the file holds more than {MAX_SPEC_NODES:,} YAML nodes"
_TOO_DEEP = "the YAML is nested too deeply"
_SOURCES_SCRYPT = {"n": 2**12, "r": 8, "p": 1, "dklen": 32}
# libyaml's parser when PyYAML was built with it (the usual wheels are): the same nodes and
# marks, several times faster than the pure-Python one on a large spec.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def prune_sections(data: Mapping[str, Any]) -> frozenset[str]:
    """The spec sections whose unmanaged live objects are planned as deletes."""
    prune = data.get("prune", False)
    if prune is True:
        return frozenset(PRUNE_KINDS)
    if isinstance(prune, Mapping):
        return frozenset(section for section, on in prune.items() if on is True)
    return frozenset()


@dataclass(frozen=True)
class Location:
    """Where something was written: file and 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def format_path(path: PathKey) -> str:
    """The dotted form of a path: `("repos", "app", "buckets", 0)` -> `repos.app.buckets[0]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class Marks:
    """Where the paths of a spec were written, looked up only when a problem is reported.

    A path is located at its value for a scalar entry, at its key for a mapping or list
    entry, at the item for a list item; with `at_key`, at the key of a mapping entry. A
    path that was not written is located at its nearest ancestor that was; with no such
    ancestor, at `default`. This base class knows no path: see `FileMarks` (one file) and
    `SpecMarks` (the merged files of a spec).
    """

    def __init__(self, default: Location) -> None:
        self.default = default

    def locate(self, path: PathKey, *, at_key: bool = False) -> Location:
        """The location of `path`, or of its nearest written ancestor."""
        return self.default

    def problem(self, path: PathKey, message: str, *, at_key: bool = False) -> SpecProblem:
        """A problem at `path`, named by its dotted form."""
        where = self.locate(path, at_key=at_key)
        return SpecProblem(where.file, where.line, where.column, format_path(path), message)


_Entry = tuple[Node | None, Node]  # (key node, or None for a list item; value node)


class FileMarks(Marks):
    """The places of one YAML file's paths. Loading keeps no node and no mark (issue 9: that
    cost most of loading a large spec); the first lookup reads the file's text again, once:
    a plain file (`plain`: read from the parser's events) in one pass over the events that
    notes every path's place, any other by composing its nodes, each lookup then walking
    the node tree along the path (reading each mapping's entries into a dict the first
    time it is walked through)."""

    def __init__(
        self, default: Location, text: str, root: Node | None = None, *, plain: bool = False
    ) -> None:
        super().__init__(default)
        self._text: str | None = text if root is None else None
        self._root = root
        self._plain = plain
        self._places: tuple[dict[PathKey, Place], dict[PathKey, Place]] | None = None
        self._entries: dict[int, dict[str, _Entry]] = {}
        self._lock = threading.Lock()

    def locate(self, path: PathKey, *, at_key: bool = False) -> Location:
        with self._lock:  # another thread's lookup may be reading the file, or a mapping
            if self._plain and self._places is None and self._text is not None:
                try:
                    self._places = plain_places(self._text, _SafeLoader)
                except Unusual:
                    self._plain = False
            if self._places is not None:
                return self._place(path, at_key, *self._places)
            return self._walk(path, at_key)

    def _place(
        self, path: PathKey, at_key: bool, values: dict[PathKey, Place], keys: dict[PathKey, Place]
    ) -> Location:
        found = keys.get(path) if at_key else None
        for end in range(len(path), -1, -1):
            if found is not None:
                break
            found = values.get(path[:end])
        return self.default if found is None else Location(self.default.file, *found)

    def _walk(self, path: PathKey, at_key: bool) -> Location:
        node = self._tree()
        if node is None:
            return self.default
        where = self._loc(node)
        for depth, part in enumerate(path):
            found = self._child(node, part)
            if found is None:
                break
            key, node = found
            if key is not None and at_key and depth == len(path) - 1:
                return self._loc(key)
            where = self._loc(key if key is not None and not isinstance(node, ScalarNode) else node)
        return where

    def _tree(self) -> Node | None:
        if self._text is not None:
            try:
                self._root = _compose(self._text)
            except (yaml.YAMLError, RecursionError):
                self._root = None  # only a file that already has a problem fails here
            self._text = None
        return self._root

    def _loc(self, node: Node) -> Location:
        return Location(self.default.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _child(self, node: Node, part: str | int) -> _Entry | None:
        if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            return None, node.value[part]
        if isinstance(node, MappingNode) and isinstance(part, str):
            return self._mapping(node).get(part)
        return None

    def _mapping(self, node: MappingNode) -> dict[str, _Entry]:
        """A mapping's entries by key, as the loader reads them: the first of duplicate
        keys; an entry written in the mapping before one merged in (`<<`), a later merge
        key before an earlier one, and an earlier source of a merge list before a later."""
        entries = self._entries.get(id(node))
        if entries is not None:
            return entries
        entries = self._entries[id(node)] = {}  # before the merges: an alias may loop
        merges = []
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                merges.append(value)
            elif isinstance(key, ScalarNode):
                entries.setdefault(str(key.value), (key, value))
        for value in reversed(merges):
            for source in value.value if isinstance(value, SequenceNode) else [value]:
                if isinstance(source, MappingNode):
                    for name, entry in self._mapping(source).items():
                        entries.setdefault(name, entry)
        return entries


class SpecMarks(Marks):
    """The places of a merged spec's paths: each top-level section, and each named entry of
    a named section, is looked up in the file that declared it first."""

    def __init__(self, default: Location) -> None:
        super().__init__(default)
        self.owners: dict[PathKey, Marks] = {}

    def locate(self, path: PathKey, *, at_key: bool = False) -> Location:
        owner = self.owners.get(tuple(path[:2])) if len(path) >= 2 else None
        owner = owner or self.owners.get(tuple(path[:1]))
        return self.default if owner is None else owner.locate(path, at_key=at_key)


@dataclass
class Spec:
    """A loaded, interpolated and validated spec.

    `data` is the merged plain data (defaults not filled in), with the secret fields as
    `fbplan.secrets.values.Secret` objects. `digest` identifies the spec for a plan file: a sha256
    over the files' bytes, the resolved variables and a scrypt hash of the values read
    from the environment and files into fields that are not secret (see `_digest`); never
    over a secret field's value.
    `variables` are the resolved variables: the spec's, overridden by `cli_vars`.
    `unresolved` lists the paths left empty because an env var or file was missing
    (only with `require_env=False`, each with a matching entry in `warnings`).
    """

    data: dict[str, Any]
    files: list[Path]
    root: Path
    warnings: list[SpecProblem]
    digest: str
    variables: dict[str, str] = field(default_factory=dict)
    unresolved: frozenset[PathKey] = frozenset()
    marks: Marks | None = field(default=None, repr=False, compare=False)

    @property
    def workspace_name(self) -> str:
        return workspace_name(self.data)

    @property
    def protected_workspace(self) -> bool:
        return workspace_protected(self.data)

    def prunes(self, kind: str) -> bool:
        """Whether the spec is authoritative for `kind` (one of `PRUNE_KINDS`)."""
        return kind in prune_sections(self.data)

    def location(self, path: PathKey) -> Location:
        """Where `path` was written, or its nearest recorded ancestor."""
        if self.marks is None:
            first = str(self.files[0]) if self.files else str(self.root)
            return Location(first, 1, 1)
        return self.marks.locate(tuple(path))

    def problem(self, path: PathKey, message: str) -> SpecProblem:
        """A `SpecProblem` at `path`, for later stages that find a problem in the spec."""
        where = self.location(path)
        return SpecProblem(where.file, where.line, where.column, format_path(path), message)


def load_spec(
    path: str | Path,
    *,
    cli_vars: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> Spec:
    """Load, interpolate and validate the spec at `path` (a YAML file or a folder of them).

    `cli_vars` override the spec's `variables`; `env` defaults to `os.environ`. With
    `require_env=False`, unset env vars and missing `${file:}` files become warnings and
    their values are left empty. Raises `SpecError` with every problem found.
    """
    spec_path = Path(path)
    files, root = _discover(spec_path)
    documents = [_parse_file(file) for file in files]
    _raise_if([problem for doc in documents for problem in doc.problems])
    data, marks, problems = _merge(documents, Location(str(files[0]), 1, 1))
    result = interpolate(
        data,
        marks,
        env=os.environ if env is None else env,
        cli_vars=cli_vars or {},
        root=root,
        require_env=require_env,
    )
    problems += result.problems
    skip = result.failed | result.unresolved
    problems += validate(result.view, marks, tainted=result.tainted, skip=skip)
    _raise_if(problems, result.warnings)
    return Spec(
        data=result.data,
        files=files,
        root=root,
        warnings=sorted(set(result.warnings), key=_problem_order),
        digest=_digest(documents, result.variables, result.sources),
        variables=result.variables,
        unresolved=frozenset(result.unresolved),
        marks=marks,
    )


def _raise_if(problems: list[SpecProblem], warnings: list[SpecProblem] | None = None) -> None:
    if problems:
        error = SpecError(sorted(set(problems), key=_problem_order))
        error.warnings = sorted(set(warnings or ()), key=_problem_order)
        raise error


def _problem_order(problem: SpecProblem) -> tuple[str, int, int, str, str]:
    return (problem.file, problem.line, problem.column, problem.field, problem.message)


def _fail(path: Path, message: str) -> SpecError:
    return SpecError([SpecProblem(str(path), 1, 1, "", message)])


def _discover(path: Path) -> tuple[list[Path], Path]:
    """The spec files at `path` (sorted) and the folder they live in.

    Every non-hidden `*.yaml`/`*.yml` entry of a folder is a spec file: one that cannot be
    read (a dangling or looping link, a FIFO) is reported, never skipped, as skipping it
    would silently drop its resources (and with `prune`, plan them as deletes).
    """
    if path.is_dir():
        files = sorted(
            entry
            for entry in path.iterdir()
            if entry.suffix in (".yaml", ".yml") and not entry.name.startswith(".")
        )
        if not files:
            raise _fail(path, "no *.yaml or *.yml files in this folder")
        return files, path
    if not path.exists():
        raise _fail(path, "no such file or folder")
    return [path], path.parent


# --- one file: YAML to plain data --------------------------------------------------


@dataclass
class _Document:
    file: Path
    marks: Marks
    raw: bytes = b""
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[SpecProblem] = field(default_factory=list)


def _parse_file(path: Path) -> _Document:
    """Read a file: straight from the parser's events when it is plain YAML (the usual
    case, see `fastyaml`), else by composing its nodes, which reports every problem."""
    doc = _Document(path, Marks(Location(str(path), 1, 1)))
    try:
        doc.raw = read_bounded(path, MAX_SPEC_BYTES)
        text = doc.raw.decode("utf-8-sig")
    except FileRefused as err:
        return _with_problem(doc, f"cannot read the file: {err}")
    except UnicodeDecodeError:
        return _with_problem(doc, "the file is not UTF-8 text")
    try:
        data = read_plain_yaml(text, _SafeLoader, max_nodes=MAX_SPEC_NODES, max_values=_MAX_NODES)
    except TooManyNodes:
        return _with_problem(doc, _TOO_MANY_NODES)
    except yaml.MarkedYAMLError as err:
        return _with_problem(doc, _syntax_message(err), _mark_of(err))
    except Unusual:
        return _compose_file(doc, text)
    doc.data = data or {}
    doc.marks = FileMarks(doc.marks.default, text, plain=True)
    return doc


def _compose_file(doc: _Document, text: str) -> _Document:
    if _too_many_nodes(text):
        return _with_problem(doc, _TOO_MANY_NODES)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as err:
        return _with_problem(doc, _syntax_message(err), _mark_of(err))
    except yaml.YAMLError as err:
        return _with_problem(doc, f"YAML error: {err}")
    except RecursionError:
        return _with_problem(doc, _TOO_DEEP)
    doc.marks = FileMarks(doc.marks.default, text, node)  # looked up in the same nodes
    return _build_document(doc, node)


def read_yaml_file(path: Path) -> tuple[dict[str, Any], Marks, list[SpecProblem], bytes]:
    """One YAML file as plain data with its marks and problems, read like a spec file
    (bounded size and nodes, duplicate keys refused), and its bytes: for the other YAML
    files fbplan reads, such as a checks file."""
    doc = _parse_file(path)
    return doc.data, doc.marks, doc.problems, doc.raw


def _with_problem(doc: _Document, message: str, where: tuple[int, int] = (1, 1)) -> _Document:
    doc.problems.append(SpecProblem(str(doc.file), where[0], where[1], "", message))
    return doc


def _too_many_nodes(text: str) -> bool:
    """Whether `text` holds more than `MAX_SPEC_NODES` nodes, counted with the fast (C)
    parser when there is one, before composing it. A syntax error is left for the
    composition to report with its place."""
    count = 0
    parser = _SafeLoader(text)
    try:
        while parser.check_event():
            if isinstance(parser.get_event(), yaml.NodeEvent):
                count += 1
                if count > MAX_SPEC_NODES:
                    return True
    except yaml.YAMLError:
        return False
    finally:
        parser.dispose()
    return False


def _compose(text: str) -> Node | None:
    loader = _SafeLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _mark_of(err: yaml.MarkedYAMLError) -> tuple[int, int]:
    mark = err.problem_mark or err.context_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _syntax_message(err: yaml.MarkedYAMLError) -> str:
    message = f"YAML syntax error: {err.problem or err.context or 'invalid YAML'}"
    context, problem = err.context_mark, err.problem_mark
    if err.problem and err.context:
        message += f" ({err.context}"
        if context is not None and problem is not None and context.line != problem.line:
            message += f" at line {context.line + 1}"
        message += ")"
    return message


def _build_document(doc: _Document, node: Node | None) -> _Document:
    if node is None:
        return doc  # an empty file (or only comments) declares nothing
    builder = _Builder(str(doc.file))
    if not isinstance(node, MappingNode):
        kind = "a list" if isinstance(node, SequenceNode) else "a single value"
        where = builder.loc(node)
        message = (
            f"the top level must be a mapping of sections (version, workspace, ...), not {kind}"
        )
        return _with_problem(doc, message, (where.line, where.column))
    try:
        data = builder.build(node, ())
    except _TooLarge:
        return _with_problem(doc, "the YAML expands to too many nodes (aliases?)")
    except RecursionError:
        return _with_problem(doc, _TOO_DEEP)
    doc.data = data if isinstance(data, dict) else {}
    doc.problems += builder.problems
    return doc


class _TooLarge(Exception):
    pass


class _Builder:
    """Turns a composed YAML node tree into plain data, recording problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[SpecProblem] = []
        self._constructor = SafeConstructor()
        self._count = 0
        self._active: set[int] = set()

    def loc(self, node: Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def report(self, node: Node, path: PathKey, message: str) -> None:
        where = self.loc(node)
        self.problems.append(
            SpecProblem(where.file, where.line, where.column, format_path(path), message)
        )

    def build(self, node: Node, path: PathKey) -> Any:
        self._count += 1
        if self._count > _MAX_NODES:
            raise _TooLarge
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._active:
            self.report(node, path, "a YAML alias refers to a node that contains it")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            return self.sequence(node, path)
        finally:
            self._active.discard(id(node))

    def scalar(self, node: ScalarNode, path: PathKey) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            self.report(node, path, f"unsupported or invalid YAML value for tag {node.tag!r}")
            return None

    def sequence(self, node: SequenceNode, path: PathKey) -> list[Any]:
        if node.tag != _SEQ_TAG:
            self.report(node, path, f"unsupported YAML tag {node.tag!r}")
        items = []
        for index, item in enumerate(node.value):
            items.append(self.build(item, (*path, index)))
        return items

    def mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self.report(node, path, f"unsupported YAML tag {node.tag!r}")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self.merge_into(result, value_node, path)
        seen: dict[str, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            self.entry(result, seen, key_node, value_node, path)
        return result

    def entry(
        self,
        result: dict[str, Any],
        seen: dict[str, Location],
        key_node: Node,
        value_node: Node,
        path: PathKey,
    ) -> None:
        if not isinstance(key_node, ScalarNode):
            self.report(key_node, path, "a mapping key must be plain text, not a list or mapping")
            return
        key = str(key_node.value)  # the text as written: `no:` is the key "no", not False
        child, where = (*path, key), self.loc(key_node)
        if key in seen:
            first = seen[key]
            self.report(key_node, child, f"duplicate key; first defined at line {first.line}")
            return
        seen[key] = where
        result[key] = self.build(value_node, child)

    def merge_into(self, result: dict[str, Any], value_node: Node, path: PathKey) -> None:
        """Apply a YAML merge key (`<<: *base` or `<<: [*a, *b]`, earlier ones winning)."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                self.report(source, path, "a YAML merge key (<<) needs a mapping or a list of them")
                continue
            merged = self.build(source, path)
            if isinstance(merged, dict):
                result.update(merged)


# --- several files: one merged mapping ------------------------------------------------


def _merge(
    documents: list[_Document], default: Location
) -> tuple[dict[str, Any], SpecMarks, list[SpecProblem]]:
    """Merge the top-level mappings of the files, reporting clashes at both places. Each
    section and named entry is taken once, noting the file it came from: linear in size."""
    merged: dict[str, Any] = {}
    marks = SpecMarks(default)
    problems: list[SpecProblem] = []
    for doc in documents:
        for key, value in doc.data.items():
            problems += _merge_entry(merged, marks.owners, doc.marks, key, value)
    return merged, marks, problems


def _merge_entry(
    merged: dict[str, Any],
    owners: dict[PathKey, Marks],
    source: Marks,
    key: str,
    value: Any,
) -> list[SpecProblem]:
    current = merged.get(key)
    fresh = key not in merged or isinstance(current, dict)  # `buckets:` left empty is None
    if key in NAMED_SECTIONS and isinstance(value, dict) and fresh:
        target = merged.setdefault(key, {})
        owners.setdefault((key,), source)
        return [
            problem
            for name, item in value.items()
            for problem in _merge_named(target, owners, source, (key, name), item)
        ]
    if key not in merged:
        merged[key] = value
        owners[(key,)] = source
        return []
    if key in AGREED_SECTIONS and current == value:
        return []
    reason = "differs between files; every file must agree" if key in AGREED_SECTIONS else None
    return _clash(owners[(key,)], source, (key,), reason or "declared in more than one file")


def _merge_named(
    target: dict[str, Any],
    owners: dict[PathKey, Marks],
    source: Marks,
    path: PathKey,
    item: Any,
) -> list[SpecProblem]:
    name = str(path[-1])
    if name in target:
        return _clash(owners[path], source, path, f"duplicate name '{name}'")
    target[name] = item
    owners[path] = source
    return []


def _clash(first: Marks, second: Marks, path: PathKey, message: str) -> list[SpecProblem]:
    """The same problem at both places, each pointing at the other."""
    here, there = first.locate(path, at_key=True), second.locate(path, at_key=True)
    return [
        first.problem(path, f"{message}; also declared at {there}", at_key=True),
        second.problem(path, f"{message}; also declared at {here}", at_key=True),
    ]


# --- digest ---------------------------------------------------------------------------


def _digest(
    documents: list[_Document], variables: Mapping[str, str], sources: list[tuple[str, str]]
) -> str:
    """sha256 over each file's bytes (length-prefixed, in order), the resolved variables and
    a slow salted hash (scrypt) of the values read from the environment and files into
    fields that are not secret: a saved plan, which shows only their references, still
    notices that one changed, and its digest cannot cheaply be turned back into a value."""
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(f"{len(doc.raw)}\n".encode())
        digest.update(doc.raw)
    digest.update(json.dumps(dict(variables), sort_keys=True).encode())
    if sources:
        salt = digest.digest()
        values = json.dumps(sources, ensure_ascii=False).encode()
        digest.update(hashlib.scrypt(values, salt=salt, **_SOURCES_SCRYPT))
    return digest.hexdigest()
