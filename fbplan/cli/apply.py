"""`fbplan apply` and `fbplan destroy`.

Ctrl-C while changes are being made: the first one stops starting steps, lets the running
ones finish (each is bounded by the client's timeouts and retries), keeps their secrets and
fingerprints, prints the summary and exits 130. A second one stops at once (exit 130),
naming the steps that were running and may be left half done.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import click

from fbplan.checks import checks_for_apply
from fbplan.cli.console import (
    confirm,
    err,
    out,
    parse_vars,
    request_logger,
    setup_logging,
    user_errors,
)
from fbplan.cli.options import (
    break_lock_option,
    checks_option,
    format_option,
    lock_timeout_option,
    parallelism_option,
    planning_options,
    spec_argument,
    spec_run_options,
)
from fbplan.cli.output import publish_outputs
from fbplan.cli.progress import RunOutput
from fbplan.cli.show import render
from fbplan.cli.smoke import exit_for, render_smoke, smoke_progress
from fbplan.cli.stacks import single_spec, stack_options
from fbplan.errors import ConfigError
from fbplan.plan.model import Plan
from fbplan.plan.planfile import load_plan
from fbplan.smoke.runner import Pins, require_packages, run_smoke
from fbplan.workflow import (
    ApplyReport,
    ApplyRequest,
    Connection,
    PlanRequest,
    Prepared,
    apply_prepared,
    check_before_apply,
    connect,
    load,
    lock_workspace,
    prepare,
)


class RunningSteps(Protocol):
    """What the Ctrl-C message names: the steps running now (one apply's or several's)."""

    def running(self) -> list[Any]: ...


def describe_running(tracker: RunningSteps) -> str:
    return ", ".join(str(step) for step in tracker.running()) or "none"


class StopNow(KeyboardInterrupt):
    """The second Ctrl-C: leave at once, naming the steps that were running."""

    def __init__(self, running: str) -> None:
        super().__init__(running)
        self.running = running


@contextmanager
def ctrl_c_stops(stop: threading.Event, tracker: RunningSteps) -> Iterator[None]:
    """SIGINT sets `stop` the first time and raises StopNow the second (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise StopNow(describe_running(tracker))
        stop.set()
        message = (
            "Interrupted: no new step will start; waiting for the running ones to finish "
            f"({describe_running(tracker)}). Press Ctrl-C again to stop at once."
        )
        # Printed from another thread: the main thread may be inside a write to stderr,
        # which a signal handler must not reenter.
        threading.Thread(target=err, args=(message,), daemon=True).start()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def stopped_at_once() -> Iterator[None]:
    """After a second Ctrl-C (outside the lock, so it is released): say what may be left
    half done and leave without waiting for the running requests."""
    try:
        yield
    except StopNow as stop:
        err(
            f"Stopped at once. These steps were running and may be left half done: "
            f"{stop.running}. Run fbplan plan to see what is left; apply again converges."
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


def report_and_exit(report: ApplyReport, output: RunOutput) -> None:
    output.applied(report)
    for result in report.of("failed"):
        err(f"Failed: {result.step}: {result.message}")
    if report.not_started:
        names = ", ".join(str(step) for step in report.not_started[:10])
        more = ", ..." if len(report.not_started) > 10 else ""
        err(f"Not started (Ctrl-C): {names}{more}. Run apply again to finish.")
    output.say(report.summary())
    if report.not_started:
        sys.exit(130)
    if not report.ok:
        sys.exit(1)


def run_apply(
    prepared: Prepared,
    connection: Connection,
    request: ApplyRequest,
    yes: bool,
    output: RunOutput,
    title: str = "plan",
) -> None:
    # destroy and --allow-delete need no approval in the spec: do not ask for one
    approvals = title == "plan" and not request.allow_delete
    output.say(render(prepared.plan, "text", title=title, approvals=approvals))
    output.run_started(prepared.plan, connection.backend)
    check_before_apply(prepared, request)  # a blocked or stale plan is refused before asking
    if not prepared.plan.has_changes:
        return
    if not confirm("Do you want to perform these actions? Only 'yes' will be accepted.", yes):
        err("Apply cancelled.")
        sys.exit(1)
    stop = threading.Event()
    with output.steps(prepared.plan) as tracker, ctrl_c_stops(stop, tracker):
        report = apply_prepared(
            prepared, connection, request, on_step=tracker, stop=stop, checked=True
        )
    report_and_exit(report, output)


def lock(workspace: str, command: str, break_lock: bool, timeout: float) -> Any:
    """The workspace lock, waiting up to `timeout` for a live holder; a dead holder's lock
    is taken over with a note on stderr."""
    return lock_workspace(
        workspace, command, break_lock, timeout, on_note=lambda note: err(f"note: {note}")
    )


def smoke_after_apply(
    prepared: Prepared, connection: Connection, pins: Pins | None, output: RunOutput
) -> None:
    """The spec's smoke checks, after a successful apply, with the values the outputs gave
    the application: exit 4 if one fails."""
    if not prepared.spec.data.get("smoke"):
        return
    err("Running smoke checks...")
    report = run_smoke(prepared.spec, connection, on_step=smoke_progress(), pins=pins)
    output.smoke(report)
    if not output.json:
        out(render_smoke(report, "text"))
    exit_for(report)


@click.command()
@click.argument("specs", nargs=-1, type=click.Path(), metavar="[SPEC]...")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), help="Apply a saved plan.")
@planning_options
@stack_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--allow-delete", is_flag=True, help="Carry out deletes and replaces.")
@parallelism_option
@click.option("--no-smoke", is_flag=True, help="Skip the smoke checks after apply.")
@break_lock_option
@lock_timeout_option
@checks_option
@format_option("text", "json")
def apply(
    specs: tuple[str, ...],
    plan_path: str | None,
    local: bool,
    variables: tuple[str, ...],
    verbose: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    rotate: tuple[str, ...],
    force: bool,
    yes: bool,
    allow_delete: bool,
    parallelism: int,
    no_smoke: bool,
    break_lock: bool,
    lock_timeout: float,
    checks_path: str | None,
    stack_parallelism: int,
    max_rps: float | None,
    output_format: str,
) -> None:
    """Make the live workspace match SPEC (or carry out a saved plan)."""
    spec = single_spec("apply", specs) if specs else None
    setup_logging(verbose)
    output = RunOutput("apply", output_format)
    with user_errors(), output.summarized():
        cli_vars = parse_vars(variables)
        if plan_path:
            if spec:
                raise ConfigError("give either SPEC or --plan PLANFILE, not both")
            request = _reviewed(load_plan(Path(plan_path)), plan_path, cli_vars, force)
        elif spec:
            request = PlanRequest(spec, cli_vars, rotate, targets, force, excludes=excludes)
        else:
            raise ConfigError("apply needs a SPEC or --plan PLANFILE")
        saved_checks = request.saved.checks if request.saved else None
        request = replace(request, checks=checks_for_apply(checks_path, saved_checks))
        loaded = load(request)  # a spec or checks error stops here, before any request
        if not no_smoke:
            require_packages(loaded[0])
        with connect(
            local=local, on_event=request_logger(verbose), parallelism=parallelism
        ) as connection:
            with stopped_at_once(), lock(loaded[1].workspace, "apply", break_lock, lock_timeout):
                prepared = prepare(request, connection, loaded=loaded)
                apply_request = ApplyRequest(allow_delete, parallelism)
                run_apply(prepared, connection, apply_request, yes, output)
                pins = publish_outputs(prepared.spec, connection, say=output.say)
            if not no_smoke:
                smoke_after_apply(prepared, connection, pins, output)


def _reviewed(saved: Plan, plan_path: str, cli_vars: dict[str, str], force: bool) -> PlanRequest:
    """The request that planning again must answer with exactly the saved plan: the saved
    plan's spec, options and variables (a --var given now wins, and is noticed if it
    changes the plan)."""
    if not Path(saved.spec_path).exists():
        raise ConfigError(
            f"the plan {plan_path} was made from the spec {saved.spec_path}, which is not found "
            "from this folder; run apply --plan from the folder plan ran in"
        )
    return PlanRequest(
        saved.spec_path,
        {**saved.variables, **cli_vars},
        saved.rotate,
        saved.targets,
        saved.force or force,
        excludes=saved.excludes,
        saved=saved,
    )


@click.command()
@spec_argument
@spec_run_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@parallelism_option
@break_lock_option
@lock_timeout_option
@format_option("text", "json")
def destroy(
    spec: str,
    local: bool,
    verbose: bool,
    variables: tuple[str, ...],
    yes: bool,
    parallelism: int,
    break_lock: bool,
    lock_timeout: float,
    output_format: str,
) -> None:
    """Delete everything SPEC declares, in reverse dependency order (honours protect)."""
    setup_logging(verbose)
    output = RunOutput("destroy", output_format)
    with user_errors(), output.summarized():
        request = PlanRequest(spec, parse_vars(variables))
        loaded = load(request)
        with (
            connect(
                local=local, on_event=request_logger(verbose), parallelism=parallelism
            ) as connection,
            stopped_at_once(),
            lock(loaded[1].workspace, "destroy", break_lock, lock_timeout),
        ):
            prepared = prepare(request, connection, destroy=True, loaded=loaded)
            request_all = ApplyRequest(True, parallelism)
            run_apply(prepared, connection, request_all, yes, output, "destroy plan")
