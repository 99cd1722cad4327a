"""Output targets: where `apply` writes the outputs after a successful apply, before smoke.

- `dotenv` and `json`: a file (relative to the spec's folder) written 0600 and merged
  atomically, as the secret sink is: the target's own names are replaced, everything
  else in the file is kept, and the file is replaced in one rename.
- `github_env` and `github_output`: lines appended to the files GitHub Actions names in
  `GITHUB_ENV` (environment of the next steps) and `GITHUB_OUTPUT` (step outputs). Each
  secret is announced with `::add-mask::` on stdout before it is written, so the runner
  masks it in every later log line (so keep `apply`'s stdout in the log: do not save it to
  a file). Outside GitHub Actions (`GITHUB_ACTIONS` is not `true`, or the variable is
  unset) the target is skipped, and the report says so. `github_output` never takes a
  secret.
- `aws_secretsmanager`: one secret holding the values as a JSON object, through the
  secret sink's AWS code.

Every value is checked against every target's format before the first write: a value a
format cannot carry (a line break, or a quote in a dotenv file) fails with the output's
name, never its value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fbplan.errors import ConfigError
from fbplan.files import FileRefused, read_bounded
from fbplan.outputs import Outputs, OutputValue
from fbplan.secrets.sinks import AwsSecretsManagerSink, _variable, _write_private, unwritable
from fbplan.spec import Spec

MAX_FILE_BYTES = 1024 * 1024  # an existing target file larger than this is not read
GITHUB_FILES = {"github_env": "GITHUB_ENV", "github_output": "GITHUB_OUTPUT"}
_DOTENV_SAFE = re.compile(r'[^"\\$`\x00-\x1f\x7f]*')
_LINE_SAFE = re.compile(r"[^\r\n\x00]*")


@dataclass(frozen=True)
class Target:
    name: str
    type: str
    config: Mapping[str, Any]
    root: Path

    @property
    def path(self) -> Path:
        return Path(os.path.normpath(self.root / str(self.config["path"])))

    def description(self) -> str:
        match self.type:
            case "dotenv":
                return f"dotenv file {self.path}"
            case "json":
                return f"JSON file {self.path}"
            case "aws_secretsmanager":
                return f"AWS Secrets Manager secret {self.config['name']}"
            case _:
                return GITHUB_FILES[self.type]

    def selected(self, outputs: Outputs) -> list[OutputValue]:
        names = self.config.get("values")
        if names is None:
            return list(outputs.values)
        return [v for v in (outputs.get(str(n)) for n in names) if v is not None]


@dataclass(frozen=True)
class Written:
    """What one target got: `count` values, or nothing and why (`skipped`)."""

    target: str
    description: str
    count: int
    skipped: str = ""


def check_writable(spec: Spec) -> None:
    """Refuse, before apply changes anything, a dotenv or JSON target that cannot be
    written: apply would otherwise make the objects and then fail to hand them over."""
    for target in targets_of(spec):
        if target.type in ("dotenv", "json"):
            problem = unwritable(target.path)
            if problem:
                raise ConfigError(
                    f"outputs target {target.name}: the {target.description()} cannot be "
                    f"written: {problem}; nothing was changed"
                )


def targets_of(spec: Spec) -> list[Target]:
    targets = ((spec.data.get("outputs") or {}).get("targets")) or {}
    return [Target(name, str(body["type"]), body, spec.root) for name, body in targets.items()]


def dotenv_line(name: str, value: str) -> str:
    """`NAME="value"`, for values `check_format` accepted for dotenv."""
    return f'{name}="{value}"'


def check_format(kind: str, value: OutputValue, where: str) -> None:
    """Raise if `value` cannot be written in a `kind` target (`dotenv`, a GitHub file)."""
    text = value.plain()
    if kind == "dotenv" and not _DOTENV_SAFE.fullmatch(text):
        raise ConfigError(
            f"output {value.name} cannot be written to {where}: its value holds a quote, "
            "backslash, $, backquote or control character, which dotenv readers disagree on"
        )
    if kind in GITHUB_FILES and not _LINE_SAFE.fullmatch(text):
        raise ConfigError(
            f"output {value.name} cannot be written to {where}: it holds a line break"
        )


def write_targets(
    spec: Spec, outputs: Outputs, *, env: Mapping[str, str], mask: Callable[[str], None]
) -> list[Written]:
    """Write every target of the spec; `mask` announces a secret to GitHub Actions."""
    outputs.check_known("no outputs target was written")
    targets = targets_of(spec)
    for target in targets:
        for value in target.selected(outputs):
            check_format(target.type, value, f"outputs target {target.name}")
    return [_write(target, target.selected(outputs), env, mask) for target in targets]


def _write(
    target: Target, values: list[OutputValue], env: Mapping[str, str], mask: Callable[[str], None]
) -> Written:
    where = target.description()
    plain = {v.name: v.plain() for v in values}
    if target.type in GITHUB_FILES:
        variable = GITHUB_FILES[target.type]
        if env.get("GITHUB_ACTIONS") != "true":  # ::add-mask:: lines mean nothing elsewhere
            return Written(target.name, where, 0, "not running in GitHub Actions")
        if not env.get(variable):
            return Written(target.name, where, 0, f"{variable} is not set")
        if target.type == "github_output" and any(v.sensitive for v in values):
            raise ConfigError(f"outputs target {target.name}: {variable} never takes a secret")
        for value in values:
            if value.sensitive:
                mask(value.plain())  # before the value is anywhere the runner could show
        _append_lines(Path(env[variable]), plain, target.name)
    elif target.type == "aws_secretsmanager":
        sink = AwsSecretsManagerSink(
            str(target.config["name"]),
            target.config.get("region"),
            description=f"AWS Secrets Manager (outputs target {target.name})",
        )
        sink.put(str(target.config["name"]), plain)
    else:
        text = _existing(target.path, target.name)
        new = (
            _merge_json(text, plain, target)
            if target.type == "json"
            else _merge_dotenv(text, plain)
        )
        with _file_errors(target.name, where):
            _write_private(target.path, new)
    return Written(target.name, where, len(values))


def _existing(path: Path, name: str) -> str:
    """The file's text ('' if there is none yet): a regular file of at most `MAX_FILE_BYTES`,
    never a FIFO or a device that would hang or exhaust memory."""
    if not path.exists() or path.is_dir():
        return ""
    try:
        return read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
    except (FileRefused, UnicodeDecodeError) as refused:
        raise ConfigError(
            f"outputs target {name}: cannot read {path}: {refused}; "
            "point the target at a file of its own"
        ) from None


def _merge_dotenv(text: str, values: Mapping[str, str]) -> str:
    kept = [line for line in text.splitlines() if _variable(line) not in values]
    return "".join(f"{line}\n" for line in kept) + "".join(
        dotenv_line(name, value) + "\n" for name, value in values.items()
    )


def _merge_json(text: str, values: Mapping[str, str], target: Target) -> str:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ConfigError(
            f"outputs target {target.name}: {target.path} does not hold a JSON object"
        )
    data.update(values)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _append_lines(path: Path, values: Mapping[str, str], name: str) -> None:
    with _file_errors(name, str(path)), path.open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{key}={value}\n" for key, value in values.items()))


@contextmanager
def _file_errors(name: str, where: str) -> Iterator[None]:
    """OS failures as one `ConfigError` sentence naming the target, the file and why."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"cannot write outputs target {name} ({where}): {reason}") from None
