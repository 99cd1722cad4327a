"""Resolve `${env:NAME}`, `${file:PATH}` and `${var:NAME}` inside the spec's string values.

- `${env:NAME}`  the environment variable NAME
- `${file:PATH}` the content of PATH (relative to the spec's folder), one trailing newline
                 stripped; a regular file of at most `MAX_REFERENCED_BYTES` (a FIFO, a
                 device or a larger file is refused, see `fbplan.files`)
- `${var:NAME}`  the spec's `variables.NAME`, overridden by `--var NAME=VALUE`
- `$${`          a literal `${`

Values under `variables:` are plain text and are not interpolated. The secret fields
(`SECRET_FIELDS`) must be exactly one `${env:NAME}` or `${file:PATH}` and become
`Secret(value, origin="env:NAME" | "file:PATH")`. Any other text that holds an `${env:}` or
`${file:}` reference becomes `Sourced(value, written)`: plans show it as written, and each
value read from the environment or a file is registered for redaction, so that it is never
printed, even in a field that is not secret (use `${var:}` for values that may be shown).
No message ever holds a resolved value.

With `require_env=False` (`fbplan validate` in CI without secrets), an unset env var or an
unreadable file is a warning, not a problem: the reference resolves to an empty string
(an empty `Secret` in a secret field) and the path is listed in `unresolved`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fbplan.errors import SpecProblem
from fbplan.files import MAX_REFERENCED_BYTES, FileRefused, read_bounded
from fbplan.kinds import SECRET_FIELDS
from fbplan.secrets.values import Secret, Sourced, register

if TYPE_CHECKING:
    from fbplan.spec.loader import Marks, PathKey

SECRET_RULE = "secret fields must come from ${env:NAME} or ${file:PATH}, never a literal"

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_REFERENCE = re.compile(r"(env|file|var):(.+)", re.DOTALL)
_SECRET_REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HINT = "use ${env:NAME}, ${file:PATH} or ${var:NAME}, or $${ for a literal ${"


def is_secret_field(path: PathKey) -> bool:
    """Whether `path` is a secret field, e.g. `("buckets", "media", "secret")`."""
    return len(path) == 3 and (path[0], path[2]) in SECRET_FIELDS


@dataclass
class Interpolated:
    """The result of interpolating a spec's data.

    `data` has Secrets in the secret fields; `view` is the same data for validation, with
    the secret fields left as written (`${env:NAME}`). `tainted` lists the paths whose
    value came from the environment or a file: messages must never show those values.
    `failed` lists paths that already have a problem. `sources` holds each value read from
    the environment or a file into a field that is not secret, with its reference: plans
    show only the reference, so the value goes into the spec's digest (slowly hashed) for
    a saved plan to notice a change; never into an output. (Secret fields are left out, as
    before: their changes show through their fingerprints.)
    """

    data: dict[str, Any]
    view: dict[str, Any]
    variables: dict[str, str]
    problems: list[SpecProblem] = field(default_factory=list)
    warnings: list[SpecProblem] = field(default_factory=list)
    unresolved: set[PathKey] = field(default_factory=set)
    tainted: set[PathKey] = field(default_factory=set)
    failed: set[PathKey] = field(default_factory=set)
    sources: list[tuple[str, str]] = field(default_factory=list, repr=False)


def interpolate(
    data: dict[str, Any],
    marks: Marks,
    *,
    env: Mapping[str, str],
    cli_vars: Mapping[str, str],
    root: Path,
    require_env: bool = True,
) -> Interpolated:
    """Resolve every reference in `data`; see the module docstring."""
    variables = _variables(data.get("variables"), cli_vars)
    resolver = _Resolver(marks, env, variables, root, require_env)
    resolved, view = resolver.walk(data, ())
    out = resolver.out
    out.data, out.view = resolved, view
    return out


def _variables(declared: Any, cli_vars: Mapping[str, str]) -> dict[str, str]:
    """The spec's variables (scalars as text; the schema rejects non-strings) and --var."""
    variables: dict[str, str] = {}
    if isinstance(declared, dict):
        for name, value in declared.items():
            if isinstance(value, str | int | float | bool):
                variables[str(name)] = str(value)
    variables.update({str(k): str(v) for k, v in cli_vars.items()})
    return variables


class _Resolver:
    def __init__(
        self,
        marks: Marks,
        env: Mapping[str, str],
        variables: dict[str, str],
        root: Path,
        require_env: bool,
    ) -> None:
        self.marks = marks
        self.env = env
        self.root = root
        self.require_env = require_env
        self.out = Interpolated({}, {}, variables)
        self.files: dict[str, tuple[str | None, str | None, bool]] = {}
        self.secrets: dict[tuple[str, str], Secret] = {}

    def walk(self, value: Any, path: PathKey) -> tuple[Any, Any]:
        """(resolved value, validation view) of `value` at `path`. A value with nothing to
        resolve is returned as it is, not copied: only the secret fields and the strings
        that hold `${` are touched (issue 9)."""
        if is_secret_field(path):
            return self.secret(value, path)
        if path == ("variables",):
            return value, value
        if isinstance(value, dict | list):
            return self.container(value, path)
        if isinstance(value, str) and "${" in value:
            text = self.string(value, path)
            return text, text
        return value, value

    def container(self, value: dict[str, Any] | list[Any], path: PathKey) -> tuple[Any, Any]:
        """A mapping or list walked item by item; copied (once) only where an item changes."""
        resolved: Any = None
        view: Any = None
        section = path[0] if len(path) == 2 else None  # its items may be secret fields
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if not (
                isinstance(item, dict | list)
                or (isinstance(item, str) and "${" in item)
                or (section is not None and (section, key) in SECRET_FIELDS)
            ):
                continue
            new, new_view = self.walk(item, (*path, key))
            if new is not item:
                resolved = value.copy() if resolved is None else resolved
                resolved[key] = new
            if new_view is not item:
                view = value.copy() if view is None else view
                view[key] = new_view
        return (value if resolved is None else resolved), (value if view is None else view)

    def problem(self, path: PathKey, message: str) -> None:
        self.out.problems.append(self.marks.problem(path, message))
        self.out.failed.add(path)

    def missing(self, path: PathKey, message: str) -> None:
        """An unset env var or unreadable file: a problem, or a warning if not required."""
        if self.require_env:
            self.problem(path, message)
            return
        self.out.warnings.append(self.marks.problem(path, f"{message}; left empty"))
        self.out.unresolved.add(path)

    def secret(self, value: Any, path: PathKey) -> tuple[Any, Any]:
        match = _SECRET_REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            self.problem(path, _secret_problem(value))
            return None, value
        kind, argument = match.groups()
        self.out.tainted.add(path)
        origin, text = f"{kind}:{argument}", self.resolve(kind, argument, path) or ""
        secret = self.secrets.get((origin, text))
        if secret is None:  # one (immutable) Secret per reference: registered once
            secret = self.secrets[(origin, text)] = Secret(text, origin=origin)
        return secret, value

    def string(self, value: str, path: PathKey) -> str:
        parts: list[str] = []
        position = 0
        for token in _TOKEN.finditer(value):
            parts.append(value[position : token.start()])
            position = token.end()
            parts.append(self.token(token, path))
        parts.append(value[position:])
        text = "".join(parts)
        return Sourced(text, value) if path in self.out.tainted else text

    def token(self, token: re.Match[str], path: PathKey) -> str:
        if token.group(0) == "$${":
            return "${"
        inner = token.group(1)
        if inner is None:
            self.problem(path, f"unclosed '${{'; {_HINT}")
            return ""
        reference = _REFERENCE.fullmatch(inner)
        if reference is None:
            self.problem(path, f"{_unknown(inner)}; {_HINT}")
            return ""
        kind, argument = reference.groups()
        resolved = self.resolve(kind, argument, path) or ""
        if kind != "var":
            self.out.tainted.add(path)
            self.out.sources.append((token.group(0), resolved))
            register(resolved)
        return resolved

    def resolve(self, kind: str, argument: str, path: PathKey) -> str | None:
        if kind == "env":
            return self.env_value(argument, path)
        if kind == "file":
            return self.file_value(argument, path)
        if argument not in self.out.variables:
            self.problem(
                path,
                f"unknown variable '{argument}'; declare it under variables "
                f"or pass --var {argument}=VALUE",
            )
            return None
        return self.out.variables[argument]

    def env_value(self, name: str, path: PathKey) -> str | None:
        if not _ENV_NAME.fullmatch(name):
            self.problem(path, f"'{name}' is not a valid environment variable name")
            return None
        value = self.env.get(name)
        if value is None:
            self.missing(path, f"environment variable '{name}' is not set")
        return value

    def file_value(self, name: str, path: PathKey) -> str | None:
        if name not in self.files:
            self.files[name] = self.read_file(name)
        text, message, missing = self.files[name]
        if message is not None:
            report = self.missing if missing else self.problem
            report(path, message)
        return text

    def read_file(self, name: str) -> tuple[str | None, str | None, bool]:
        """The text of a `${file:}` reference, or why it cannot be read and whether it is
        missing: read once per load, however many fields refer to it (issue 9)."""
        target = Path(name).expanduser()
        target = target if target.is_absolute() else self.root / target
        try:
            text = read_bounded(target, MAX_REFERENCED_BYTES).decode("utf-8-sig")
        except FileRefused as err:
            return None, f"cannot read file '{name}': {err}", err.missing
        except UnicodeDecodeError:
            return None, f"file '{name}' is not UTF-8 text", False
        return _strip_newline(text), None, False


def _unknown(inner: str) -> str:
    shown = inner if len(inner) <= 40 else inner[:37] + "..."
    return f"unknown reference '${{{shown}}}'"


def _secret_problem(value: Any) -> str:
    """An unknown reference source (`${nope:X}`) is named as such; anything else breaks the
    secret rule."""
    for token in _TOKEN.finditer(value) if isinstance(value, str) else ():
        inner = token.group(1)
        if inner is not None and not _REFERENCE.fullmatch(inner):
            return f"{_unknown(inner)}; secret fields take ${{env:NAME}} or ${{file:PATH}}"
    return SECRET_RULE


def _strip_newline(text: str) -> str:
    """Strip one trailing newline (`\\n` or `\\r\\n`), as editors add one."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text
