"""Everyday mistakes of a first hour with fbplan, made as a user makes them (issue 14)."""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import REPO

pytestmark = pytest.mark.e2e

QUICKSTART = "examples/quickstart.yaml"


def test_the_help_says_what_the_readme_says_about_exit_code_0(user):
    shown = " ".join(user.fbplan("--help").stdout.split())
    assert "Exit codes: 0 success (a plain plan also exits 0 when it shows changes)" in shown
    assert "no changes" not in shown
    assert "| 0 | success (a plain `plan` also exits 0 when it shows changes) |" in (
        REPO / "README.md"
    ).read_text(encoding="utf-8")
    planned = user.fbplan("plan", "--local", QUICKSTART)
    assert planned.code == 0 and "Plan: 4 to create" in planned.stdout


@pytest.mark.parametrize("port", ["99999", "65534", "-1"])
def test_the_emulator_refuses_a_port_it_cannot_use(user, port):
    result = user.fbplan("emulator", "--port", port, "--data", "emu.db", timeout=60)
    assert result.code == 1
    assert f"{port} is not a usable port: give 1-65533" in result.stderr
    assert "Backend API" not in result.stdout and "Traceback" not in result.stderr


def _three_ports_with_the_middle_one_taken() -> tuple[int, socket.socket]:
    """A port p whose p and p + 2 are free while p + 1 is held by the returned socket."""
    for _ in range(50):
        taken = socket.create_server(("127.0.0.1", 0))
        middle = taken.getsockname()[1]
        if 1 < middle < 65535 and all(_free(middle + d) for d in (-1, 1)):
            return middle - 1, taken
        taken.close()
    pytest.fail("found no three neighbouring ports to test with")


def _free(port: int) -> bool:
    try:
        socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        return False
    return True


def test_the_emulator_names_the_port_that_is_taken_and_the_three_it_needs(user):
    port, taken = _three_ports_with_the_middle_one_taken()
    with taken:
        result = user.fbplan("emulator", "--port", str(port), "--data", "emu.db", timeout=60)
    assert result.code == 1
    assert (
        f"Error: the emulator cannot listen on 127.0.0.1:{port + 1} for its AI gateway "
        f"(Address already in use); it needs three free ports, {port}-{port + 2}"
    ) in result.stderr
    assert "Port " not in result.stderr  # werkzeug's own message is not shown
    assert "Backend API" not in result.stdout


class _NotFlashback(http.server.BaseHTTPRequestHandler):
    """Some other web server: every path is an HTML 404."""

    def do_GET(self) -> None:
        body = b"<html><body>Not here</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def other_web_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFlashback)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_backend_url_that_is_not_the_flashback_api_is_named(user, other_web_server):
    user.env.update(FB_BACKEND_URL=other_web_server, FB_JWT="any")
    result = user.fbplan("plan", QUICKSTART)
    assert result.code == 1
    assert (
        f"failed with HTTP 404 (Not Found). The answer from {other_web_server}/workspace does "
        "not look like the Flashback API: check FB_BACKEND_URL."
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_in_a_terminal_apply_shows_each_smoke_step_once(user):
    applied = user.terminal("apply", "--local", "--yes", QUICKSTART)
    assert applied.code == 0, applied.stdout
    shown = applied.stdout
    assert "Running smoke checks...\nok      storage app/app-rw via http://127.0.0.1:" in shown
    for step in ("credentials", "endpoint", "put", "get", "delete", "gone"):
        in_report = re.findall(rf"^    {step} +\d+\.\d{{3}} s  ", shown, re.MULTILINE)
        as_progress = re.findall(rf": {step} (?:ok|FAILED) \(", shown)
        assert (len(in_report), len(as_progress)) == (1, 0), step


def test_with_the_report_in_a_file_smoke_steps_still_show_as_they_run(user):
    assert user.fbplan("apply", "--local", "--yes", "--no-smoke", QUICKSTART).code == 0
    result = user.fbplan("smoke", "--local", QUICKSTART)
    assert result.code == 0, result.stderr
    assert "storage app/app-rw: put ok" in result.stderr
    assert "Smoke: 1 check, 1 passed." in result.stdout
