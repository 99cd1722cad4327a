"""`fbplan emulator`: a local Flashback backend, Bridge Node and AI gateway."""

from __future__ import annotations

import math
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import click
import yaml

from fbplan.cli.console import err, out, user_errors
from fbplan.errors import ConfigError


def read_text_or_file(value: str) -> str:
    """`@PATH` reads a file; anything else is the text itself."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text()
    except OSError as error:
        raise ConfigError(f"cannot read the fault file {value[1:]}: {error.strerror}") from None


def fault_rules(value: str) -> tuple[list[Any], int | None]:
    from fbplan.emulator.faults import parse_faults

    try:
        return parse_faults(read_text_or_file(value))
    except (ValueError, TypeError, KeyError, yaml.YAMLError) as error:
        detail = " ".join(str(error).split())
        raise ConfigError(f"--faults: invalid fault rules ({detail})") from None


def quota_limits(values: tuple[str, ...]) -> dict[str, int | None]:
    """`--quota KIND=LIMIT` values: LIMIT a non-negative integer, or `none` (unlimited)."""
    from fbplan.emulator.store_base import QUOTA_KINDS

    limits: dict[str, int | None] = {}
    for value in values:
        kind, _, limit = value.partition("=")
        if kind not in QUOTA_KINDS:
            raise ConfigError(
                f"--quota {value}: unknown quota {kind!r}; expected one of {', '.join(QUOTA_KINDS)}"
            )
        if limit.lower() == "none":
            limits[kind] = None
        elif limit.isdigit() and len(limit) <= 15:
            limits[kind] = int(limit)
        else:
            raise ConfigError(f"--quota {value}: the limit must be a non-negative integer or none")
    return limits


def credit_settings(amount: str | None, no_subscription: bool) -> dict[str, Any]:
    """`--credits AMOUNT|off` and `--no-subscription` as the store's credit settings."""
    settings: dict[str, Any] = {"subscription": False} if no_subscription else {}
    if amount is None:
        return settings
    if amount.lower() == "off":
        return {**settings, "credits": None}
    try:
        number = float(amount)
    except ValueError:
        number = float("nan")
    if not math.isfinite(number) or abs(number) >= 1e15:
        raise ConfigError(f"--credits {amount}: give a number (the balance) or off")
    return {**settings, "credits": number}


MAX_PORT = 65535 - 2  # the AI gateway and the Bridge Node take the next two ports
THREE_PORTS = "the backend on --port, the AI gateway on --port + 1, the Bridge Node on --port + 2"


def check_port(ctx: click.Context, param: click.Parameter, port: int) -> int:
    """0 (ephemeral ports) or a port whose next two are valid ports too."""
    if not 0 <= port <= MAX_PORT:
        raise click.BadParameter(
            f"{port} is not a usable port: give 1-{MAX_PORT} (the emulator listens on three "
            f"ports: {THREE_PORTS}) or 0 for any free ports"
        )
    return port


def port_error(error: OSError, host: str, port: int) -> ConfigError:
    """Which port could not be taken, and that the emulator needs three."""
    from fbplan.emulator.server import PortUnavailable

    reason = error.strerror or str(error)
    if not isinstance(error, PortUnavailable) or not port:
        return ConfigError(f"the emulator cannot listen on {host}: {reason}")
    taken = f"{error.host}:{error.port}"
    return ConfigError(
        f"the emulator cannot listen on {taken} for its {error.service} ({reason}); it needs "
        f"three free ports, {port}-{port + 2} ({THREE_PORTS}): free {taken} or choose another "
        "--port"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=int,
    callback=check_port,
    help="Backend API port; the AI gateway and the Bridge Node take the next two.",
)
@click.option(
    "--data",
    "data_path",
    default=".fbplan/emulator.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file holding the emulator's state.",
)
@click.option("--token", default=None, help="Bearer token to accept (else FB_JWT, else generated).")
@click.option("--faults", default=None, help="Fault rules as JSON or YAML text, or @FILE.")
@click.option("--seed", default=None, type=int, help="Seed for reproducible faults.")
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="KIND=LIMIT",
    help="An organization quota, e.g. buckets=10 (repeatable; LIMIT none: unlimited).",
)
@click.option(
    "--credits",
    "credit_amount",
    default=None,
    metavar="AMOUNT|off",
    help="The organization's credit balance (default 1000); off: credits not enabled.",
)
@click.option(
    "--no-subscription",
    is_flag=True,
    help="No active subscription: GET /user/quota answers 404 NO_ACTIVE_SUBSCRIPTION.",
)
def emulator(
    host: str,
    port: int,
    data_path: str,
    token: str | None,
    faults: str | None,
    seed: int | None,
    quotas: tuple[str, ...],
    credit_amount: str | None,
    no_subscription: bool,
) -> None:
    """Run a local Flashback backend until interrupted."""
    from fbplan.emulator.server import start_emulator

    with user_errors():
        generated = not (token or os.environ.get("FB_JWT"))
        token = token or os.environ.get("FB_JWT") or secrets.token_urlsafe(24)
        Path(data_path).parent.mkdir(parents=True, exist_ok=True)
        rules, rules_seed = fault_rules(faults) if faults else (None, None)
        limits, credits = quota_limits(quotas), credit_settings(credit_amount, no_subscription)
        try:
            running = start_emulator(
                data_path,
                token,
                host=host,
                port=port,
                faults=rules,
                seed=seed or rules_seed,
                quotas=limits,
                credits=credits,
            )
        except OSError as error:
            raise port_error(error, host, port) from None
        out(f"Backend API:   {running.backend_url}")
        for url in running.bridge_urls:
            out(f"Bridge Node:   {url}")
        out(f"AI gateway:    {running.gateway_url}")
        out(f"Data:          {data_path}")
        out("Use it with:")
        out(f"  export FB_BACKEND_URL={running.backend_url}")
        if generated:  # a token the user gave (perhaps a real one) is never echoed
            click.echo(f"  export FB_JWT={token}")
        else:
            out("  export FB_JWT=<the token given with --token or FB_JWT>")
        err("Press Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            running.stop()
            err("Emulator stopped.")
