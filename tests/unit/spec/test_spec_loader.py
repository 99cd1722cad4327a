"""Loading spec files and folders: locations, merging, YAML mistakes, the Spec result."""

from __future__ import annotations

from pathlib import Path

import pytest

from fbplan.errors import SpecError
from fbplan.secrets.values import Secret
from fbplan.spec import Location, format_path, load_spec


def test_full_example_loads(fixtures: Path, load) -> None:
    spec = load(fixtures / "valid-full.yaml")
    assert spec.workspace_name == "acme-prod"
    assert spec.protected_workspace is True
    assert spec.files == [fixtures / "valid-full.yaml"]
    assert spec.root == fixtures
    assert spec.warnings == []
    assert spec.prunes("api_keys") and not spec.prunes("buckets")
    assert spec.data["buckets"]["media"]["bucket"] == "acme-media-prod"
    assert spec.data["repos"]["app"]["buckets"][1] == {"bucket": "backup", "folder": "backup"}
    assert "master" not in spec.data["repos"]["app"]["buckets"][1]  # defaults are not filled in


def test_typo_in_field_points_at_the_key(fixtures: Path, problems) -> None:
    path = fixtures / "typo-in-field.yaml"
    # One problem for one typo: the required field it was meant to be is not also "missing".
    assert problems(path) == [
        f"{path}:6:5: buckets.media.storage_typ: unknown field; did you mean 'storage_type'?",
    ]


def test_several_problems_are_reported_at_once_sorted(fixtures: Path, problems) -> None:
    path = fixtures / "several-problems.yaml"
    assert problems(path) == [
        f"{path}:4:45: buckets.media.storage_type: must be one of S3, GCS, BLOB; "
        "did you mean 'S3'?",
        f"{path}:9:24: repos.app.buckets[0].bucket: unknown bucket 'medai'; did you mean 'media'?",
        f"{path}:10:5: repos.app.colour: unknown field; valid fields are name, renamed_from, storage_type, "
        "mode, buckets, ai_llms, api_keys, ai_api_keys, cloud_keys, protect",
        f"{path}:12:19: policies.no-pii.scope: unknown repo 'ap'; did you mean 'app'?",
    ]


def test_spec_error_message_counts_problems(fixtures: Path, problems) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(fixtures / "several-problems.yaml")
    assert str(caught.value).startswith("4 problems in the spec; first: ")


def test_duplicate_keys_in_one_mapping(fixtures: Path, problems) -> None:
    path = fixtures / "duplicate-keys.yaml"
    assert problems(path) == [f"{path}:6:3: buckets.media: duplicate key; first defined at line 4"]


def test_duplicate_keys_at_every_level(write_spec, messages) -> None:
    path = write_spec("buckets:\n  media: {bucket: a, bucket: b, storage_type: S3}\n")
    assert messages(path) == ["buckets.media.bucket: duplicate key; first defined at line 4"]


def test_folder_merges_files_in_order(fixtures: Path) -> None:
    folder = fixtures / "split-folder"
    spec = load_spec(folder)
    assert [p.name for p in spec.files] == ["00-main.yaml", "10-storage.yml", "20-repos.yaml"]
    assert spec.root == folder
    assert spec.data["buckets"]["media"]["bucket"] == "media-prod"
    assert list(spec.data) == ["version", "workspace", "variables", "buckets", "repos"]
    assert spec.location(("repos", "app", "buckets", 0, "folder")) == Location(
        str(folder / "20-repos.yaml"), 5, 39
    )


def test_folder_reports_duplicate_names_and_clashes_at_both_places(
    fixtures: Path, problems
) -> None:
    a = fixtures / "duplicate-names-folder" / "a.yaml"
    b = fixtures / "duplicate-names-folder" / "b.yaml"
    assert problems(fixtures / "duplicate-names-folder") == [
        f"{a}:1:1: version: differs between files; every file must agree; also declared at {b}:1:1",
        f"{a}:4:3: buckets.media: duplicate name 'media'; also declared at {b}:4:3",
        f"{a}:5:1: smoke: declared in more than one file; also declared at {b}:5:1",
        f"{b}:1:1: version: differs between files; every file must agree; also declared at {a}:1:1",
        f"{b}:4:3: buckets.media: duplicate name 'media'; also declared at {a}:4:3",
        f"{b}:5:1: smoke: declared in more than one file; also declared at {a}:5:1",
    ]


def test_a_section_left_empty_in_one_file_and_filled_in_another_clashes(
    tmp_path: Path, problems
) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\nworkspace: acme\nbuckets:\n")
    (tmp_path / "b.yaml").write_text("buckets:\n  b: {bucket: b}\n")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert problems(tmp_path) == [
        f"{a}:3:1: buckets: declared in more than one file; also declared at {b}:1:1",
        f"{a}:3:9: buckets: expected a mapping, got nothing (null)",
        f"{b}:1:1: buckets: declared in more than one file; also declared at {a}:3:1",
    ]


def test_yaml_syntax_error_has_its_mark(fixtures: Path, problems) -> None:
    path = fixtures / "yaml-syntax-error.yaml"
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:5:")
    assert "YAML syntax error" in problem


def test_several_documents_in_one_file(write_spec, problems) -> None:
    path = write_spec("---\nversion: 1\n", header=False)
    path.write_text("version: 1\n---\nworkspace: acme\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2:1: YAML syntax error: but found another document")


def test_empty_file_is_missing_version_and_workspace(fixtures: Path, problems) -> None:
    path = fixtures / "empty.yaml"
    assert problems(path) == [
        f"{path}:1:1: version: required field is missing",
        f"{path}:1:1: workspace: required field is missing",
    ]


def test_top_level_must_be_a_mapping(fixtures: Path, problems) -> None:
    path = fixtures / "top-level-list.yaml"
    assert problems(path) == [
        f"{path}:1:1: the top level must be a mapping of sections (version, workspace, ...), "
        "not a list"
    ]


def test_missing_path(tmp_path: Path, problems) -> None:
    assert problems(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}:1:1: no such file or folder"
    ]


def test_folder_without_yaml_files(tmp_path: Path, problems) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert problems(tmp_path) == [f"{tmp_path}:1:1: no *.yaml or *.yml files in this folder"]


def test_file_that_is_not_utf8(tmp_path: Path, problems) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"version: 1\nworkspace: \xff\xfe\n")
    assert problems(path) == [f"{path}:1:1: the file is not UTF-8 text"]


def test_unreadable_file(tmp_path: Path, problems) -> None:
    (tmp_path / "spec.yaml").mkdir()  # a folder named like a file: reading it fails
    folder = tmp_path / "holder"
    folder.mkdir()
    path = folder / "spec.yaml"
    path.symlink_to(tmp_path / "missing-target.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}:1:1: no such file or folder"]


def test_keys_are_taken_as_written(write_spec) -> None:
    path = write_spec(
        "variables: {no: x, off: y}\nbuckets:\n"
        "  on: {bucket: a, storage_type: S3, region: r, key: k, secret: '${env:S}'}\n"
    )
    spec = load_spec(path, env={"S": "s"})
    assert spec.data["variables"] == {"no": "x", "off": "y"}
    assert list(spec.data["buckets"]) == ["on"]


def test_yaml_anchors_and_merge_keys(write_spec) -> None:
    path = write_spec(
        """\
        buckets:
          a: &base {bucket: a, storage_type: S3, region: us-east-1, key: k, secret: '${env:S}'}
          b: {<<: *base, bucket: b}
        """
    )
    spec = load_spec(path, env={"S": "s"})
    assert spec.data["buckets"]["b"] == {
        "bucket": "b",
        "storage_type": "S3",
        "region": "us-east-1",
        "key": "k",
        "secret": Secret("s"),
    }


def test_recursive_alias_is_a_problem_not_a_crash(write_spec, messages) -> None:
    path = write_spec("smoke: &loop {storage: [*loop]}\n")
    assert any("alias refers to a node that contains it" in m for m in messages(path))


def test_alias_bomb_is_refused(write_spec, messages) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    path = write_spec("smoke:\n" + "\n".join("  " + line for line in lines) + "\n")
    assert messages(path) == ["the YAML expands to too many nodes (aliases?)"]


def test_unknown_yaml_tag(write_spec, messages) -> None:
    path = write_spec("variables: {env: !Ref prod}\n")
    assert messages(path) == [
        "variables.env: unsupported or invalid YAML value for tag '!Ref'",
    ]


def test_location_walks_up_to_the_nearest_known_node(fixtures: Path, load) -> None:
    spec = load(fixtures / "valid-full.yaml")
    media = spec.location(("buckets", "media"))
    assert (media.line, media.column) == (13, 3)
    assert spec.location(("buckets", "media", "no-such-field", 3)) == media
    assert spec.location(("nothing", "here")) == Location(str(fixtures / "valid-full.yaml"), 1, 1)
    problem = spec.problem(("repos", "app", "api_keys", "app-rw"), "protected")
    assert (
        str(problem)
        == f"{fixtures / 'valid-full.yaml'}:23:16: repos.app.api_keys.app-rw: protected"
    )


def test_format_path() -> None:
    assert format_path(("repos", "app", "buckets", 0, "bucket")) == "repos.app.buckets[0].bucket"
    assert format_path(()) == ""


def test_digest_covers_files_and_variables_but_not_secrets(
    fixtures: Path, tmp_path: Path, load, full_env
) -> None:
    path = fixtures / "valid-full.yaml"
    first = load(path).digest
    other_secrets = {**full_env, "AWS_SECRET_ACCESS_KEY": "another", "OPENAI_API_KEY": "other"}
    assert load(path, env=other_secrets).digest == first
    assert load(path, cli_vars={"env": "staging"}).digest != first
    copy = tmp_path / "spec.yaml"
    copy.write_text(path.read_text() + "\n# a comment\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "gcs.key").write_text("x")
    assert load(copy).digest != first
    assert len(first) == 64


def test_workspace_as_plain_name(write_spec) -> None:
    spec = load_spec(write_spec(""))
    assert spec.workspace_name == "acme"
    assert spec.protected_workspace is False
    assert spec.prunes("buckets") is False


def test_prune_true_covers_every_kind(write_spec) -> None:
    spec = load_spec(write_spec("prune: true\n"))
    assert spec.prunes("repos") and spec.prunes("policies")


def test_secret_values_are_secrets(fixtures: Path, load, full_env) -> None:
    spec = load(fixtures / "valid-full.yaml")
    secret = spec.data["provider_keys"]["aws-prod"]["secret"]
    assert isinstance(secret, Secret)
    assert secret.origin == "env:AWS_SECRET_ACCESS_KEY"
    assert secret.reveal() == full_env["AWS_SECRET_ACCESS_KEY"]
    assert spec.data["provider_keys"]["aws-prod"]["key"] == full_env["AWS_ACCESS_KEY_ID"]
