"""Where problems point: file:line:column of nested entries, list items, interpolated values,
merged fields and each file of a folder. The loader looks a place up only when a problem is
reported (issue 9), and must point exactly where it always did."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fbplan.errors import SpecError
from fbplan.spec import Location, Spec, load_spec
from fbplan.spec.loader import FileMarks, read_yaml_file

HEADER = "version: 1\nworkspace: acme\n"

NESTED = """\
variables: {env: prod}
buckets:
  media:
    bucket: "media-${var:env}"
    storage_type: S4
    region: us-east-1
    key: k
    secret: '${env:S}'
    colour: red
repos:
  app:
    storage_type: S3
    buckets:
      - {bucket: media, folder: a}
      - bucket: medai
        folder: "${var:nope}"
    ai_llms: [nope]
policies:
  p1: {scope: "repo:ap", risk: HIGH, action: block, content: "x"}
"""

WARNED = """\
buckets:
  a: {bucket: a, storage_type: S3, region: us-east-1, key: '${env:K}', secret: '${env:S}'}
repos:
  app:
    storage_type: S3
    mode: NORMAL
    buckets: [{bucket: a, folder: "${file:nofile}"}]
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "spec.yaml"
        path.write_text(HEADER + textwrap.dedent(text))
        return path

    return write


def problems_of(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path, env={"S": "s"}, **kwargs)  # type: ignore[arg-type]
    return [str(problem).replace(str(path), "F") for problem in caught.value.problems]


def test_problems_point_at_nested_entries_list_items_and_interpolated_values(
    spec_file: Callable[[str], Path],
) -> None:
    assert problems_of(spec_file(NESTED)) == [
        "F:7:19: buckets.media.storage_type: must be one of S3, GCS, BLOB",
        "F:11:5: buckets.media.colour: unknown field; valid fields are name, renamed_from, "
        "bucket, storage_type, region, endpoint, provider_key, key, secret, protect",
        "F:13:3: repos.app.mode: required field is missing",
        "F:17:17: repos.app.buckets[1].bucket: unknown bucket 'medai'; did you mean 'media'?",
        "F:18:17: repos.app.buckets[1].folder: unknown variable 'nope'; declare it under "
        "variables or pass --var nope=VALUE",
        "F:19:15: repos.app.ai_llms[0]: unknown ai_llm 'nope'; no ai_llm is declared",
        "F:21:15: policies.p1.scope: unknown repo 'ap'; did you mean 'app'?",
    ]


def test_a_problem_in_a_merged_field_points_at_the_text_it_came_from(
    spec_file: Callable[[str], Path],
) -> None:
    path = spec_file(
        """\
        buckets:
          a: &base {bucket: a, storage_type: S4, region: us-east-1, key: k, secret: '${env:S}'}
          b:
            <<: *base
            bucket: b
            region: 7
        """
    )
    assert problems_of(path) == [
        "F:4:38: buckets.a.storage_type: must be one of S3, GCS, BLOB",
        "F:4:38: buckets.b.storage_type: must be one of S3, GCS, BLOB",
        "F:8:13: buckets.b.region: expected a string, got a number "
        "(quote the value to make it a string)",
    ]


def test_warnings_point_at_the_interpolated_values(spec_file: Callable[[str], Path]) -> None:
    path = spec_file(WARNED)
    spec = load_spec(path, env={}, require_env=False)
    assert [str(warning).replace(str(path), "F") for warning in spec.warnings] == [
        "F:4:60: buckets.a.key: environment variable 'K' is not set; left empty",
        "F:4:80: buckets.a.secret: environment variable 'S' is not set; left empty",
        "F:9:35: repos.app.buckets[0].folder: cannot read file 'nofile': No such file or "
        "directory; left empty",
    ]


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ((), "1:1", "1:1"),
        (("buckets",), "3:1", "3:1"),
        (("buckets", "a"), "4:3", "4:3"),
        (("buckets", "a", "key"), "4:60", "4:55"),
        (("repos", "app", "buckets", 0), "9:15", "9:15"),
        (("repos", "app", "buckets", 0, "folder"), "9:35", "9:27"),
        (("repos", "app", "buckets", 5), "9:5", "9:5"),
        (("repos", "app", "buckets", 0, "folder", "deeper"), "9:35", "9:35"),
        (("nope",), "1:1", "1:1"),
    ],
)
def test_a_path_is_located_at_its_value_or_key_or_nearest_ancestor(
    spec_file: Callable[[str], Path], path: tuple[str | int, ...], value: str, key: str
) -> None:
    spec = load_spec(spec_file(WARNED), env={}, require_env=False)
    assert spec.marks is not None
    file = str(spec.files[0])
    assert spec.location(path) == Location(file, *map(int, value.split(":")))
    assert spec.marks.locate(path, at_key=True) == Location(file, *map(int, key.split(":")))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "00-a.yaml").write_text(
        HEADER + "buckets:\n  a: {bucket: a, storage_type: S3, region: r, key: k, "
        'secret: "${env:S}"}\n'
    )
    (tmp_path / "10-b.yaml").write_text(
        "version: 1\nbuckets:\n  b:\n    bucket: b\n    storage_type: S5\n    region: r\n"
        '    key: k\n    secret: "${env:S}"\n  a: {bucket: z}\n'
        'repos:\n  app: {storage_type: S3, mode: NORMAL, buckets: [{bucket: b, folder: "${var:x}"}]}\n'
    )
    return tmp_path


def test_problems_in_a_folder_point_into_the_file_that_declared_them(folder: Path) -> None:
    a, b = folder / "00-a.yaml", folder / "10-b.yaml"
    with pytest.raises(SpecError) as caught:
        load_spec(folder, env={"S": "s"})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{a}:4:3: buckets.a: duplicate name 'a'; also declared at {b}:9:3",
        f"{b}:5:19: buckets.b.storage_type: must be one of S3, GCS, BLOB",
        f"{b}:9:3: buckets.a: duplicate name 'a'; also declared at {a}:4:3",
        f"{b}:11:71: repos.app.buckets[0].folder: unknown variable 'x'; declare it under "
        "variables or pass --var x=VALUE",
    ]


def test_paths_of_a_folder_are_located_in_their_own_file(folder: Path) -> None:
    (folder / "10-b.yaml").write_text(
        (folder / "10-b.yaml").read_text().replace("S5", "S3").replace("  a: {bucket: z}\n", "")
    )
    spec: Spec = load_spec(folder, env={"S": "s"}, cli_vars={"x": "y"})
    a, b = str(folder / "00-a.yaml"), str(folder / "10-b.yaml")
    assert spec.location(("buckets",)) == Location(a, 3, 1)
    assert spec.location(("buckets", "a", "region")) == Location(a, 4, 44)
    assert spec.location(("buckets", "b", "region")) == Location(b, 6, 13)
    assert spec.location(("buckets", "c")) == Location(a, 3, 1)
    assert spec.location(("repos", "app", "buckets", 0, "folder")) == Location(b, 10, 71)
    assert spec.location(("version",)) == Location(a, 1, 10)
    assert spec.location(("smoke", "storage")) == Location(a, 1, 1)


def test_another_yaml_file_is_located_from_its_first_node(tmp_path: Path) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text("# checks\n\nrules:\n  - {name: a, when: x}\n")
    data, marks, problems, _ = read_yaml_file(path)
    assert (data, problems) == ({"rules": [{"name": "a", "when": "x"}]}, [])
    assert marks.locate(()) == Location(str(path), 3, 1)
    assert marks.locate(("rules", 0, "when")) == Location(str(path), 4, 21)
    assert marks.locate(("rules", 0, "when"), at_key=True) == Location(str(path), 4, 15)


@pytest.mark.parametrize(
    ("reader", "extra", "loaded"),
    [
        ("plain_places", "", 0),  # plain: its places are read from the events
        ("_compose", "variables: {!!str v: x}\n", 1),  # a tagged key: composed to be loaded
        ("_compose", "variables: {v: &v x, w: *v}\n", 0),  # an alias: composed when asked
    ],
)
def test_a_file_is_read_again_only_when_a_place_is_asked_for_and_then_once(
    spec_file: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
    extra: str,
    loaded: int,
) -> None:
    from fbplan.spec import loader

    calls: list[str] = []
    read = getattr(loader, reader)

    def counting(text: str, *args: object) -> object:
        calls.append(text)
        return read(text, *args)

    monkeypatch.setattr(loader, reader, counting)
    spec = load_spec(
        spec_file(WARNED.replace("${file:nofile}", "f") + extra), env={"K": "k", "S": "s"}
    )
    assert len(calls) == loaded
    assert spec.location(("repos", "app", "mode")) == Location(str(spec.files[0]), 8, 11)
    assert spec.location(("buckets", "a")) == Location(str(spec.files[0]), 4, 3)
    assert len(calls) == 1


def test_a_merged_path_is_located_where_its_value_comes_from(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "base1: &a {x: 1, y: 1}\nbase2: &b {x: 2, y: 2, z: 2}\nm:\n  <<: [*a, *b]\n  y: 3\n"
    )
    data, marks, problems, _ = read_yaml_file(path)
    assert (data["m"], problems) == ({"x": 1, "y": 3, "z": 2}, [])
    file = str(path)
    assert marks.locate(("m", "x")) == Location(file, 1, 15)  # the first source wins
    assert marks.locate(("m", "y")) == Location(file, 5, 6)  # the mapping's own entry wins
    assert marks.locate(("m", "z")) == Location(file, 2, 27)
    assert marks.locate(("m", "z"), at_key=True) == Location(file, 2, 24)

    path.write_text("n: {<<: {v: 1}, w: 2}\n")  # a merge key without an alias
    data, marks, _, _ = read_yaml_file(path)
    assert data == {"n": {"v": 1, "w": 2}}
    assert marks.locate(("n", "v")) == Location(file, 1, 13)


def _paths(value: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path of `value`, and a path just past each (a field or item not written)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
            yield (*path, key, "not-written")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))
        yield (*path, len(value))


def assert_places_agree(path: Path) -> None:
    """Every path of the file (and one past each) is located alike from the parser's events
    and from the composed nodes."""
    data, _, problems, raw = read_yaml_file(path)
    assert problems == []
    default = Location(str(path), 1, 1)
    text = raw.decode("utf-8-sig")
    events, nodes = FileMarks(default, text, plain=True), FileMarks(default, text)
    for place in _paths(data):
        for at_key in (False, True):
            assert events.locate(place, at_key=at_key) == nodes.locate(place, at_key=at_key)


EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.mark.parametrize(
    "path",
    [
        EXAMPLES / "full.yaml",
        EXAMPLES / "checks.yaml",
        Path(__file__).parent / "fixtures" / "valid-full.yaml",
    ],
    ids=lambda path: path.name,
)
def test_the_places_read_from_events_are_those_of_the_composed_nodes(path: Path) -> None:
    assert_places_agree(path)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {k: [1, {m: n}]}\nb: *x\nc: {d: *x}\n",
        "a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nm: {y: 3, <<: [*a, *b], w: 4}\n",
        "m: {<<: {x: 1, y: 1}, x: 2}\nn: [{<<: {p: [1]}}]\n",
        "'<<': 1\nm: {'<<': 2, q: [a, {r: s}]}\n",
        "a: &x [1, 2]\nb:\n  - *x\n  - {c: *x}\n",
    ],
)
def test_places_agree_with_the_composed_nodes_with_anchors_and_merge_keys(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    assert_places_agree(path)
