"""Finding stacks among SPEC arguments, and the exit code of a run of several."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbplan.errors import ConfigError
from fbplan.stacks import discover, is_several, most_severe

SPEC = "version: 1\nworkspace: w\n"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for folder in ("stacks/b", "stacks/a", "stacks/.hidden", "single"):
        Path(folder).mkdir(parents=True)
        (Path(folder) / "spec.yaml").write_text(SPEC)
    Path("stacks/notes").mkdir()  # no spec in it: not a stack
    Path("file.yaml").write_text(SPEC)
    return tmp_path


def test_one_spec_is_not_stacks(tree: Path) -> None:
    assert not is_several(["file.yaml"])
    assert not is_several(["single"])
    assert not is_several(["missing.yaml"])  # the loader reports it, as before


def test_a_folder_of_stacks_is_its_sub_folders_with_specs(tree: Path) -> None:
    assert is_several(["stacks"])
    assert [s.name for s in discover(["stacks"])] == ["stacks/a", "stacks/b"]


def test_several_arguments_keep_their_order_once_each(tree: Path) -> None:
    found = discover(["single", "file.yaml", "stacks", "stacks/a/"])
    assert [s.name for s in found] == ["single", "file.yaml", "stacks/a", "stacks/b"]


def test_a_folder_with_no_spec_anywhere_is_an_error(tree: Path) -> None:
    with pytest.raises(ConfigError, match="holds no spec"):
        discover(["stacks/notes"])


@pytest.mark.parametrize(
    ("codes", "expected"),
    [([0, 0], 0), ([0, 2], 2), ([2, 4], 4), ([4, 3, 2], 3), ([3, 1, 0], 1), ([1, 130], 130)],
)
def test_the_run_exits_with_the_most_severe_code(codes: list[int], expected: int) -> None:
    assert most_severe(codes) == expected
