"""`fbplan plan`, `fbplan drift` and `fbplan export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fbplan.backend.live import read_live
from fbplan.checks import load_checks
from fbplan.cli.console import err, out, parse_vars, request_logger, setup_logging, user_errors
from fbplan.cli.options import (
    checks_option,
    format_option,
    local_option,
    planning_options,
    spec_run_options,
    verbose_option,
)
from fbplan.cli.progress import RunOutput
from fbplan.cli.show import render
from fbplan.cli.stacks import single_spec, specs_argument, stack_options
from fbplan.drift import attribute
from fbplan.errors import ConfigError
from fbplan.export import export_spec
from fbplan.plan.planfile import save_plan
from fbplan.workflow import PlanRequest, connect, load, prepare


@click.command()
@specs_argument
@planning_options
@stack_options
@format_option("text", "json", "markdown")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Save the plan to a file.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none."
)
@checks_option
def plan(
    specs: tuple[str, ...],
    local: bool,
    variables: tuple[str, ...],
    verbose: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    rotate: tuple[str, ...],
    force: bool,
    output_format: str,
    out_path: str | None,
    detailed_exitcode: bool,
    checks_path: str | None,
    stack_parallelism: int,
    max_rps: float | None,
) -> None:
    """Show what apply would change to make the live workspace match SPEC."""
    spec = single_spec("plan", specs)
    setup_logging(verbose)
    with user_errors():
        checks = load_checks(checks_path) if checks_path else None
        request = PlanRequest(
            spec, parse_vars(variables), rotate, targets, force, excludes=excludes, checks=checks
        )
        loaded = load(request)  # a spec or checks error stops here, before any request
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            prepared = prepare(request, connection, loaded=loaded)
        result = prepared.plan
        out(render(result, output_format, verbose=verbose))
        if out_path:
            save_plan(result, Path(out_path))
            local_flag = " --local" if local else ""
            err(
                f"Saved the plan to {out_path}; apply it from this folder with: "
                f"fbplan apply{local_flag} --plan {out_path}"
            )
    if result.blockers:
        sys.exit(3)
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


@click.command()
@specs_argument
@spec_run_options
@stack_options
@format_option("text", "json", "markdown", "events")
def drift(
    specs: tuple[str, ...],
    local: bool,
    variables: tuple[str, ...],
    verbose: bool,
    output_format: str,
    stack_parallelism: int,
    max_rps: float | None,
) -> None:
    """Compare the live workspace with SPEC. Exit 0 no drift, 2 drift, 1 error.

    Reports changed fields (live -> spec), declared resources that are missing, and live
    resources of declared kinds that the spec does not name. Drift the spec's `ignore`
    section accepts is counted, listed with --verbose, and never makes the exit code 2.
    `--format events` gives JSON lines (docs/events.md); `--format json`, the report as one
    document (docs/plan-format.md).
    """
    spec = single_spec("drift", specs)
    setup_logging(verbose)
    events = RunOutput("drift", output_format if output_format == "events" else "text")
    with user_errors(), events.summarized():
        request = PlanRequest(spec, parse_vars(variables))
        loaded = load(request)
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            prepared = prepare(request, connection, drift=True, loaded=loaded)
            report = attribute(connection.api, prepared.plan, prepared.live)
        if events.json:
            events.run_started(report, connection.backend, drift=True)
            events.drifted(report)
        else:
            out(render(report, output_format, drift=True, verbose=verbose))
        if report.has_changes or report.unmanaged:
            sys.exit(2)


@click.command()
@click.option("--workspace", required=True, help="Name of the workspace to export.")
@local_option
@verbose_option
def export(workspace: str, local: bool, verbose: bool) -> None:
    """Print the spec YAML of what exists in a workspace."""
    setup_logging(verbose)
    with user_errors():
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            live = read_live(connection.api, workspace, generate_keys=True)
        if not live.workspace_id:
            raise ConfigError(f"no workspace named {workspace} is visible to this token")
        out(export_spec(live))
