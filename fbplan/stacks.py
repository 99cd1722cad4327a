"""Stacks: several specs (one workspace each) run together, and the CI matrix of them.

A stack is a SPEC as every command takes it: a YAML file or a folder of them. The
arguments of `plan|apply|drift|validate|stacks` are found as stacks this way:

- a file, or a folder that holds `*.yaml`/`*.yml` files, is one stack (as today);
- a folder that holds no YAML file of its own is a folder of stacks: each of its
  sub-folders that holds YAML files is a stack (`fbplan plan stacks/` is
  `fbplan plan stacks/*/`, sorted, hidden folders left out).

One argument that is a spec runs exactly as before; several arguments, or a folder of
stacks, run as stacks (`is_several`). Nothing here prints or talks to the backend:
`run_each` runs a function per stack in a bounded pool and turns each stack's failure into
its result, so that one stack that fails never stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fbplan.errors import ConfigError, FbplanError, SpecError
from fbplan.files import MAX_SPEC_BYTES, FileRefused, read_bounded
from fbplan.secrets.values import redact

T = TypeVar("T")
Item = TypeVar("Item")
MAX_STACKS = 500
_SPEC_SUFFIXES = (".yaml", ".yml")
#: Exit codes from the least to the most severe: a run of several stacks exits with the
#: most severe of theirs. An error (1) outranks a block (3): a stack that could not even
#: be planned says less than one blocked by a rule; a failed smoke check (4) comes after
#: the block, as the apply itself went through; pending changes (2) only say "look".
SEVERITY = (0, 2, 4, 3, 1, 130)
GIT_TIMEOUT = 30.0
MAX_GIT_OUTPUT = 8 * 1024 * 1024
_FILE_REFERENCE = re.compile(r"\$\{file:([^}]+)\}")


@dataclass(frozen=True)
class Stack:
    """One spec of a run: its path as the user wrote it (or as a folder of stacks gave it)."""

    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def folder(self) -> Path:
        """The folder its ${file:} references and its fingerprint file are relative to."""
        return self.path if self.path.is_dir() else self.path.parent


@dataclass
class StackResult:
    """What one stack's run gave: its summary row, and what to show of it."""

    stack: Stack
    exit: int
    result: str
    workspace: str | None = None
    changes: int | None = None
    message: str | None = None  # the error sentence, when the stack failed
    text: str = ""  # the stack's own output (a plan, a report), shown before the summary
    document: dict[str, Any] = field(default_factory=dict)  # its JSON, for --format json
    markdown: str = ""  # its section, for --format markdown


def _holds_specs(folder: Path) -> bool:
    return any(
        entry.suffix in _SPEC_SUFFIXES and not entry.name.startswith(".")
        for entry in folder.iterdir()
    )


def is_stacks_folder(path: Path) -> bool:
    """A folder with no spec file of its own, whose sub-folders are the stacks."""
    try:
        return path.is_dir() and not _holds_specs(path)
    except OSError:
        return False


def is_several(arguments: Sequence[str]) -> bool:
    """Whether the SPEC arguments run as stacks (else: one spec, exactly as before)."""
    return len(arguments) > 1 or any(is_stacks_folder(Path(a)) for a in arguments)


def discover(arguments: Sequence[str]) -> list[Stack]:
    """The stacks the SPEC arguments name, in the order given (a folder's sorted), once each."""
    found: list[Stack] = []
    seen: set[Path] = set()
    for argument in arguments:
        for path in _expand(Path(argument)):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(Stack(path))
            if len(found) > MAX_STACKS:
                raise ConfigError(f"more than {MAX_STACKS} stacks given; run them in batches")
    if not found:
        raise ConfigError("no stack given: name spec files or folders")
    return found


def _expand(path: Path) -> list[Path]:
    if not is_stacks_folder(path):
        return [path]  # a spec, or a path the loader reports as missing
    try:
        stacks = sorted(
            sub
            for sub in path.iterdir()
            if sub.is_dir() and not sub.name.startswith(".") and _holds_specs(sub)
        )
    except OSError as error:
        raise ConfigError(f"cannot read the folder of stacks {path}: {error.strerror}") from None
    if not stacks:
        raise ConfigError(
            f"{path} holds no spec: no *.yaml or *.yml file, and no sub-folder holding one"
        )
    return stacks


def most_severe(codes: Iterable[int]) -> int:
    """The exit code of a run of several stacks: the most severe of theirs."""
    rank = {code: index for index, code in enumerate(SEVERITY)}
    return max(codes, key=lambda code: rank.get(code, len(SEVERITY)), default=0)


def run_each(items: Sequence[Item], work: Callable[[Item], T], parallelism: int) -> list[T]:
    """`work` on every item (a stack, or a group of stacks), `parallelism` at a time;
    results in the items' order."""
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="fbplan-stack") as pool:
        return list(pool.map(work, items))


def guarded(stack: Stack, work: Callable[[Stack], T]) -> T | StackResult:
    """`work(stack)`, or the stack's error result if it raises: the other stacks go on."""
    try:
        return work(stack)
    except SpecError as error:  # every problem, as for one spec
        lines = [*map(str, error.problems), f"Error: the spec has {len(error.problems)} problems."]
        return StackResult(stack, 1, "error", message=str(error), text="\n".join(lines))
    except FbplanError as error:
        return StackResult(stack, error.exit_code, _word(error.exit_code), message=str(error))
    except Exception as error:  # a bug in one stack must not take the others down
        message = f"internal error ({type(error).__name__}: {redact(str(error))[:300]})"
        return StackResult(stack, 1, "error", message=message)


def _word(code: int) -> str:
    return {3: "blocked", 4: "smoke failed", 130: "interrupted"}.get(code, "error")


# --- the CI matrix --------------------------------------------------------------------


def stack_files(stack: Stack, spec_files: Sequence[Path]) -> set[Path]:
    """The files a stack is made of: its spec files, its whole folder when it is a folder,
    and the files its specs name with ${file:PATH} (when the path is written literally)."""
    files = {path.resolve() for path in spec_files}
    for spec_file in spec_files:
        try:
            text = read_bounded(spec_file, MAX_SPEC_BYTES).decode("utf-8", errors="replace")
        except FileRefused:
            continue
        for reference in _FILE_REFERENCE.findall(text):
            if "${" not in reference:
                files.add((stack.folder / reference.strip()).resolve())
    return files


def changed_files(ref: str, cwd: Path) -> set[Path]:
    """Files changed since the git commit `ref` (committed, staged, in the working tree or
    new and not ignored), as absolute paths."""
    top = _git(["rev-parse", "--show-toplevel"], cwd, f"{cwd} is not inside a git repository")
    root = Path(top.strip())
    _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        cwd,
        f"--changed-since {ref}: no such commit in the git repository at {root}",
    )
    names = _git(["diff", "--name-only", "--no-renames", "-z", ref, "--"], root, "git diff failed")
    names += _git(["ls-files", "-z", "--others", "--exclude-standard"], root, "git failed")
    return {(root / name).resolve() for name in names.split("\0") if name}


def _git(arguments: list[str], cwd: Path, failure: str) -> str:
    """git's output (into a file, read only up to the cap); a ConfigError saying `failure`
    when git fails, is missing, takes too long or prints too much."""
    import subprocess  # here, as `fbplan validate` imports this module and needs neither
    import tempfile

    with tempfile.TemporaryFile() as output:
        try:
            done = subprocess.run(
                ["git", "-c", "core.quotepath=off", *arguments],
                cwd=cwd,
                stdout=output,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError("--changed-since needs git, which is not installed") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"git {arguments[0]} took longer than {GIT_TIMEOUT:g} s") from None
        if done.returncode != 0:
            raise ConfigError(failure)
        output.seek(0)
        text = output.read(MAX_GIT_OUTPUT + 1)
    if len(text) > MAX_GIT_OUTPUT:
        raise ConfigError(f"git {arguments[0]} printed more than {MAX_GIT_OUTPUT:,} bytes")
    return text.decode("utf-8", errors="replace")
