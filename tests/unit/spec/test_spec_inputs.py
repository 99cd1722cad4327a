"""Hostile spec input is refused with a sentence, fast, never a hang or a MemoryError
(issue 10, point 7): `${file:}` reads only small regular files, a spec file over the size
or node cap is refused before parsing, a folder refuses what it cannot read, and names
follow the backend's rules."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from fbplan.errors import SpecError
from fbplan.files import MAX_REFERENCED_BYTES, MAX_SPEC_BYTES
from fbplan.spec import load_spec
from fbplan.spec.loader import MAX_SPEC_NODES

HEADER = "version: 1\nworkspace: acme\n"
KEY = "provider_keys:\n  pk: {{provider: AWS, key: k, secret: '${{file:{0}}}'}}\n"


def problems_of(call: Callable[[], object]) -> list[str]:
    """The problems `call` raises, run in a thread so that a hang fails instead of blocking."""
    outcome: list[object] = []

    def run() -> None:
        try:
            call()
            outcome.append("loaded")
        except SpecError as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert outcome, "loading the spec hung"
    error = outcome[0]
    assert isinstance(error, SpecError), "the spec was accepted"
    return [str(problem) for problem in error.problems]


@pytest.mark.parametrize(
    ("target", "reason"),
    [("pipe", "a named pipe (FIFO)"), ("/dev/zero", "a character device")],
    ids=["fifo", "device"],
)
def test_a_file_reference_to_a_special_file_is_refused_without_hanging(
    tmp_path: Path, target: str, reason: str
) -> None:
    os.mkfifo(tmp_path / "pipe")
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + KEY.format(target))
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:4:39: provider_keys.pk.secret: cannot read file '{target}': it is {reason}, "
        "not a regular file"
    ]


def test_a_huge_file_reference_is_refused_without_reading_it(tmp_path: Path) -> None:
    with open(tmp_path / "huge.key", "wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB, sparse: reading it would take the memory
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + KEY.format("huge.key"))
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:4:39: provider_keys.pk.secret: cannot read file 'huge.key': it is larger "
        f"than the {MAX_REFERENCED_BYTES:,}-byte limit"
    ]


def test_a_file_reference_at_the_cap_is_read(tmp_path: Path) -> None:
    (tmp_path / "big.key").write_text("k" * MAX_REFERENCED_BYTES)
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + KEY.format("big.key"))
    secret = load_spec(spec).data["provider_keys"]["pk"]["secret"]
    assert len(secret.reveal()) == MAX_REFERENCED_BYTES


def test_a_missing_file_reference_is_still_only_a_warning_for_validate(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        HEADER
        + "provider_keys:\n"
        + "  gone: {provider: AWS, key: k, secret: '${file:gone.key}'}\n"
        + "  pk: {provider: AWS, key: k, secret: '${file:pipe}'}\n"
    )
    found = problems_of(lambda: load_spec(spec, require_env=False))
    assert found == [
        f"{spec}:5:39: provider_keys.pk.secret: cannot read file 'pipe': it is a named pipe "
        "(FIFO), not a regular file"
    ]


def test_a_spec_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    with open(spec, "wb") as handle:
        handle.write(HEADER.encode())
        handle.truncate(10 * 1024 * 1024)
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:1:1: cannot read the file: it is larger than the {MAX_SPEC_BYTES:,}-byte limit"
    ]


def test_a_spec_file_over_the_node_cap_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + "variables:\n  v: [" + "a, " * (MAX_SPEC_NODES + 10) + "a]\n")
    assert spec.stat().st_size < MAX_SPEC_BYTES
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:1:1: the file holds more than {MAX_SPEC_NODES:,} YAML nodes"
    ]


def test_too_many_values_without_aliases_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + "variables:\n  v: [" + "a, " * 100_001 + "a]\n")
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:1:1: the YAML expands to too many nodes (aliases?)"
    ]


def test_too_many_keys_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    keys = ", ".join(f"{i:x}" for i in range(100_000))  # 200,000 nodes with their values
    spec.write_text(HEADER + "variables: {" + keys + "}\n")
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:1:1: the file holds more than {MAX_SPEC_NODES:,} YAML nodes"
    ]


def test_nesting_deeper_than_python_s_stack_is_a_sentence_not_a_traceback(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + "smoke: " + "{a: " * 900 + "1" + "}" * 900 + "\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default: a library another test loaded may raise it
    try:
        found = problems_of(lambda: load_spec(spec))
    finally:
        sys.setrecursionlimit(limit)
    assert found == [f"{spec}:1:1: the YAML is nested too deeply"]


def test_nesting_deeper_than_the_parser_allows_is_a_syntax_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + "smoke: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:3:1007: YAML syntax error: exceeded maximum nesting depth "
        "(while increasing flow level)"
    ]


def test_a_spec_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    os.mkfifo(spec)
    assert problems_of(lambda: load_spec(spec)) == [
        f"{spec}:1:1: cannot read the file: it is a named pipe (FIFO), not a regular file"
    ]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: (d / "b.yaml").symlink_to(d / "gone.yaml"), "a symbolic link to a file that "),
        (lambda d: (d / "b.yaml").symlink_to(d / "b.yaml"), "a symbolic link that loops"),
        (lambda d: os.mkfifo(d / "b.yaml"), "a named pipe (FIFO), not a regular file"),
    ],
    ids=["dangling", "loop", "fifo"],
)
def test_a_folder_refuses_an_entry_it_cannot_read(
    tmp_path: Path, make: Callable[[Path], None], reason: str
) -> None:
    (tmp_path / "a.yaml").write_text(HEADER + "prune: true\n")
    make(tmp_path)
    found = problems_of(lambda: load_spec(tmp_path))
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'b.yaml'}:1:1: cannot read the file: it is {reason}")


def test_hidden_and_other_files_of_a_folder_are_still_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEADER)
    (tmp_path / ".draft.yaml").symlink_to(tmp_path / "gone.yaml")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "gone.txt")
    assert load_spec(tmp_path).workspace_name == "acme"


@pytest.mark.parametrize(
    "name",
    ["x" * 150_000, "acme\nfbplan plan for workspace", "acme\x1b[2J", "a" * 64, "-acme", "a/b"],
    ids=["long", "newline", "ansi", "64-chars", "leading-dash", "slash"],
)
def test_a_workspace_name_breaking_the_rules_is_refused_at_its_line(
    tmp_path: Path, name: str
) -> None:
    spec = tmp_path / "spec.yaml"
    quoted = name.replace("\n", "\\n").replace("\x1b", "\\e")
    spec.write_text(f'version: 1\nworkspace: {{name: "{quoted}"}}\n')
    found = problems_of(lambda: load_spec(spec))
    assert found == [
        f"{spec}:2:19: workspace.name: invalid workspace name: workspace names are 1 to 63 "
        "letters, digits, spaces, '_', '-' or '.', starting with a letter or digit"
    ]


@pytest.mark.parametrize("name", ["acme", "Acme Prod 2", "acme_prod.eu-1", "a" * 63])
def test_workspace_names_within_the_rules_are_accepted(tmp_path: Path, name: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nworkspace: '{name}'\n")
    assert load_spec(spec).workspace_name == name


def test_a_name_from_a_variable_is_checked_once_resolved(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nworkspace: acme-${var:env}\n")
    assert load_spec(spec, cli_vars={"env": "prod"}).workspace_name == "acme-prod"
    found = problems_of(lambda: load_spec(spec, cli_vars={"env": "prod\nforged line"}))
    assert len(found) == 1 and "invalid workspace name" in found[0]


def test_a_problem_never_prints_a_control_character(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEADER + 'variables:\n  "bad\\nname\\e[31m": x\n')
    found = problems_of(lambda: load_spec(spec))
    assert found == [
        f"{spec}:4:3: variables.bad\\nname\\x1b[31m: invalid variable name: letters, digits, "
        "'_', '.' or '-', starting with a letter or '_'"
    ]
