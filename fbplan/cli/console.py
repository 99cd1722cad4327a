"""What reaches the terminal: the plan or report on stdout, progress and errors on stderr,
every line passed through secret redaction on the way out (and stderr's control characters,
which no progress line or error sentence needs, escaped)."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import click

from fbplan.errors import FbplanError, SpecError
from fbplan.printable import printable
from fbplan.secrets.values import redact

if TYPE_CHECKING:
    from fbplan.backend.client import ClientEvent


def out(text: str) -> None:
    """The command's result, on stdout."""
    click.echo(redact(text.rstrip("\n")))


def err(text: str) -> None:
    """Progress, warnings and errors, on stderr."""
    click.echo(printable(redact(text), keep="\n"), err=True)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore", "werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def request_logger(verbose: bool) -> Callable[[ClientEvent], None]:
    """Report retries always, and every request with --verbose, on stderr."""

    def on_event(event: ClientEvent) -> None:
        if event.kind == "retry":
            status = f"HTTP {event.status}" if event.status else "no response"
            err(f"  retrying {event.method} {event.path} ({status}) in {event.wait_seconds:.1f} s")
        elif verbose and event.kind == "request":
            err(f"  {event.method} {event.path} -> {event.status} ({event.duration_ms:.0f} ms)")

    return on_event


def fail(error: FbplanError) -> NoReturn:
    if isinstance(error, SpecError):
        for warning in error.warnings:
            err(f"warning: {warning}")
        for problem in error.problems:
            err(str(problem))
        count = len(error.problems)
        err(f"Error: the spec has {count} problem{'s' if count != 1 else ''}.")
    else:
        err(f"Error: {error}")
    sys.exit(error.exit_code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn fbplan errors into one clear message and an exit code, never a traceback.

    An unexpected exception is a bug: it is reported in one line (redacted), with the
    traceback only when FBPLAN_DEBUG is set. FBPLAN_DEBUG also shows, above an fbplan
    error's sentence, the traceback with what caused it (e.g. the network error below a
    TransportError), redacted too.
    """
    try:
        yield
    except FbplanError as error:
        if os.environ.get("FBPLAN_DEBUG"):
            err(redact(traceback.format_exc()))
        fail(error)
    except KeyboardInterrupt:
        err("Interrupted.")
        sys.exit(130)
    except (click.exceptions.Exit, click.ClickException, SystemExit):
        raise
    except Exception as error:
        if os.environ.get("FBPLAN_DEBUG"):
            err(redact(traceback.format_exc()))
        err(
            f"Error: internal error ({type(error).__name__}: {redact(str(error))[:300]}); "
            "set FBPLAN_DEBUG=1 for details and report it"
        )
        sys.exit(1)


def parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--var")
        result[name.strip()] = value
    return result


def confirm(question: str, yes: bool) -> bool:
    """Ask on the terminal; without one, --yes is required."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to confirm on; pass --yes to proceed without asking")
    err(question)
    return click.prompt("  Enter a value", default="", show_default=False, err=True) == "yes"
