"""`fbplan apply` and `fbplan destroy`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from fbplan.apply.executor import ApplyReport
from fbplan.apply.lock import LockWait, workspace_lock
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
    lock_timeout_option,
    parallelism_option,
    planning_options,
    spec_argument,
    spec_run_options,
)
from fbplan.cli.plan import render
from fbplan.cli.smoke import exit_for, render_smoke, smoke_progress
from fbplan.errors import ConfigError, SafetyError
from fbplan.plan.graph import Step
from fbplan.plan.planfile import load_plan
from fbplan.smoke.runner import run_smoke
from fbplan.workflow import (
    ApplyRequest,
    Connection,
    PlanRequest,
    Prepared,
    apply_prepared,
    check_before_apply,
    check_fresh,
    connect,
    load,
    prepare,
)

PROGRESS = {
    "create": ("Creating...", "Creation complete"),
    "update": ("Modifying...", "Modifications complete"),
    "delete": ("Destroying...", "Destruction complete"),
}


def progress(step: Step, status: str, message: str) -> None:
    """Terraform-style progress lines on stderr."""
    started, finished = PROGRESS[step.op]
    match status:
        case "start":
            err(f"{step.address}: {started}")
        case "done":
            err(f"{step.address}: {finished} after {message}")
        case _:
            err(f"{step.address}: {step.op} {status}: {message}")


def report_and_exit(report: ApplyReport) -> None:
    for result in report.of("failed"):
        err(f"Failed: {result.step}: {result.message}")
    out(report.summary())
    if not report.ok:
        sys.exit(1)


def run_apply(
    prepared: Prepared,
    connection: Connection,
    request: ApplyRequest,
    yes: bool,
    title: str = "plan",
) -> None:
    check_fresh(prepared, request)
    out(render(prepared.plan, "text", title=title))
    if not prepared.plan.has_changes:
        return
    check_before_apply(prepared, request)  # a blocked plan is refused before asking
    if not confirm("Do you want to perform these actions? Only 'yes' will be accepted.", yes):
        err("Apply cancelled.")
        sys.exit(1)
    report_and_exit(apply_prepared(prepared, connection, request, on_step=progress))


def lock(workspace: str, command: str, break_lock: bool, timeout: float) -> Any:
    """The workspace lock, waiting up to `timeout` for a live holder; a dead holder's lock
    is taken over with a note on stderr."""
    return workspace_lock(
        workspace,
        command,
        break_lock=break_lock,
        wait=LockWait(timeout),
        on_note=lambda note: err(f"note: {note}"),
    )


def smoke_after_apply(prepared: Prepared, connection: Connection) -> None:
    """The spec's smoke checks, after a successful apply: exit 4 if one fails."""
    if not prepared.spec.data.get("smoke"):
        return
    err("Running smoke checks...")
    report = run_smoke(prepared.spec, connection, on_step=smoke_progress)
    out(render_smoke(report, "text"))
    exit_for(report)


@click.command()
@click.argument("spec", required=False, type=click.Path())
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), help="Apply a saved plan.")
@planning_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--allow-delete", is_flag=True, help="Carry out deletes and replaces.")
@parallelism_option
@click.option("--no-smoke", is_flag=True, help="Skip the smoke checks after apply.")
@break_lock_option
@lock_timeout_option
def apply(
    spec: str | None,
    plan_path: str | None,
    local: bool,
    variables: tuple[str, ...],
    verbose: bool,
    targets: tuple[str, ...],
    rotate: tuple[str, ...],
    force: bool,
    yes: bool,
    allow_delete: bool,
    parallelism: int,
    no_smoke: bool,
    break_lock: bool,
    lock_timeout: float,
) -> None:
    """Make the live workspace match SPEC (or carry out a saved plan)."""
    setup_logging(verbose)
    with user_errors():
        saved = None
        cli_vars = parse_vars(variables)
        if plan_path:
            if spec:
                raise ConfigError("give either SPEC or --plan PLANFILE, not both")
            saved = load_plan(Path(plan_path))
            spec, rotate, targets = saved.spec_path, tuple(saved.rotate), tuple(saved.targets)
            if not Path(spec).exists():
                raise ConfigError(
                    f"the plan {plan_path} was made from the spec {spec}, which is not found from "
                    "this folder; run apply --plan from the folder plan ran in"
                )
            cli_vars, force = {**saved.variables, **cli_vars}, saved.force or force
        if not spec:
            raise ConfigError("apply needs a SPEC or --plan PLANFILE")
        request = PlanRequest(spec, cli_vars, rotate, targets, force)
        loaded = load(request)
        if saved and loaded[0].digest != saved.spec_digest:
            raise SafetyError(f"the spec {spec} changed since the plan was saved; plan again")
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            with lock(loaded[1].workspace, "apply", break_lock, lock_timeout):
                prepared = prepare(request, connection, loaded=loaded)
                apply_request = ApplyRequest(allow_delete, parallelism, saved)
                run_apply(prepared, connection, apply_request, yes)
            if not no_smoke:
                smoke_after_apply(prepared, connection)


@click.command()
@spec_argument
@spec_run_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@parallelism_option
@break_lock_option
@lock_timeout_option
def destroy(
    spec: str,
    local: bool,
    verbose: bool,
    variables: tuple[str, ...],
    yes: bool,
    parallelism: int,
    break_lock: bool,
    lock_timeout: float,
) -> None:
    """Delete everything SPEC declares, in reverse dependency order (honours protect)."""
    setup_logging(verbose)
    with user_errors():
        request = PlanRequest(spec, parse_vars(variables))
        loaded = load(request)
        with (
            connect(local=local, on_event=request_logger(verbose)) as connection,
            lock(loaded[1].workspace, "destroy", break_lock, lock_timeout),
        ):
            prepared = prepare(request, connection, destroy=True, loaded=loaded)
            run_apply(prepared, connection, ApplyRequest(True, parallelism), yes, "destroy plan")
