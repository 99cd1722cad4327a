"""No secret leaks by an encoded form or a file's mode, and a symlinked sink is never
replaced (issue 10, point 8)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import respx

from fbplan.backend import BackendClient
from fbplan.emulator.store import Store
from fbplan.errors import ApiError, ConfigError
from fbplan.secrets.sinks import DotenvSink, JsonSink
from fbplan.secrets.values import MASK, Secret, redact

AWKWARD = 'pa"ss\\wo rd/é&x=1'  # a quote, a backslash, a space, a slash, non-ASCII, & and =


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    "form",
    [
        json.dumps(AWKWARD)[1:-1],
        json.dumps(AWKWARD, ensure_ascii=False)[1:-1],
        quote(AWKWARD, safe=""),
        quote(AWKWARD),
        quote_plus(AWKWARD),
    ],
    ids=["json-ascii", "json", "url", "url-path", "url-form"],
)
def test_an_encoded_form_of_a_secret_is_redacted(form: str) -> None:
    Secret(AWKWARD, origin="env:AWKWARD")
    assert form != AWKWARD
    assert redact(f"before {form} after") == f"before {MASK} after"


@respx.mock(base_url="https://backend.test")
def test_a_400_echoing_the_body_never_shows_the_secret(respx_mock: respx.Router) -> None:
    Secret(AWKWARD, origin="env:AWKWARD")
    body = json.dumps({"key": "k", "secret": AWKWARD})
    respx_mock.post("/apikeys").respond(
        400, json={"success": False, "message": f"invalid body: {body}"}
    )
    client = BackendClient("https://backend.test", "token-value")
    with client, pytest.raises(ApiError) as caught:
        client.post("/apikeys", {"key": "k", "secret": AWKWARD})
    text = str(caught.value)
    assert "invalid body" in text and MASK in text
    assert AWKWARD not in text and json.dumps(AWKWARD)[1:-1] not in text


def test_the_emulator_database_and_its_companions_are_private(tmp_path: Path) -> None:
    path = tmp_path / ".fbplan" / "local-emulator.db"
    store = Store(str(path))
    workspace = store.create_workspace("private")
    assert workspace
    companions = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert path in companions and len(companions) >= 2  # the WAL files exist while open
    assert {p.name: mode(p) for p in companions} == {p.name: 0o600 for p in companions}


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    Store(str(path))
    os.chmod(path, 0o644)
    Store(str(path))
    assert mode(path) == 0o600


@pytest.mark.parametrize("sink_type", [DotenvSink, JsonSink])
def test_a_symlinked_sink_is_written_through_to_its_target(
    tmp_path: Path, sink_type: type[DotenvSink] | type[JsonSink]
) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    target = vault / "secrets.store"
    link = tmp_path / "secrets.link"
    link.symlink_to(target)
    sink = sink_type(link)
    sink.check_writable()
    sink.write("repo.app.api_key.rw", {"key": "KID", "secret": "sekret-value"})
    sink.write("repo.app.api_key.ro", {"key": "KID2", "secret": "sekret-value-2"})
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert mode(target) == 0o600
    assert sink.read("repo.app.api_key.rw") == {"key": "KID", "secret": "sekret-value"}
    sink.remove("repo.app.api_key.ro")
    assert link.is_symlink() and sink.read("repo.app.api_key.ro") is None
    assert [p.name for p in vault.iterdir()] == ["secrets.store"]  # no temporary left


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (
            lambda link, d: link.symlink_to(d / "gone" / "x.env"),
            "points into a folder that does not",
        ),
        (lambda link, d: link.symlink_to(link), "loops"),
    ],
    ids=["dangling", "loop"],
)
def test_a_broken_symlinked_sink_is_refused_with_a_sentence(tmp_path: Path, make, why) -> None:
    link = tmp_path / "secrets.env"
    make(link, tmp_path)
    sink = DotenvSink(link)
    expected = f"the secret sink, the dotenv file {link}, is a symbolic link that {why}"
    with pytest.raises(ConfigError, match=expected):
        sink.check_writable()
    with pytest.raises(ConfigError, match=expected):
        sink.write("repo.app.api_key.rw", {"key": "KID", "secret": "sekret-value"})
    assert link.is_symlink()  # never replaced by a regular file


def test_a_sink_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    os.mkfifo(path)
    with pytest.raises(ConfigError) as caught:
        JsonSink(path).read("repo.app.api_key.rw")
    assert str(caught.value) == (
        f"cannot read the secret sink {path}: it is a named pipe (FIFO), not a regular file"
    )
