"""`fbplan plan`, `fbplan drift` and `fbplan export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fbplan.backend.live import read_live
from fbplan.cli.console import err, out, parse_vars, request_logger, setup_logging, user_errors
from fbplan.cli.options import (
    format_option,
    local_option,
    planning_options,
    spec_argument,
    spec_run_options,
    verbose_option,
)
from fbplan.cli.show import render
from fbplan.errors import ConfigError
from fbplan.export import export_spec
from fbplan.plan.planfile import save_plan
from fbplan.workflow import PlanRequest, connect, load, prepare


@click.command()
@spec_argument
@planning_options
@format_option("text", "json", "markdown")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Save the plan to a file.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none."
)
def plan(
    spec: str,
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
) -> None:
    """Show what apply would change to make the live workspace match SPEC."""
    setup_logging(verbose)
    with user_errors():
        request = PlanRequest(
            spec, parse_vars(variables), rotate, targets, force, excludes=excludes
        )
        loaded = load(request)  # a spec error stops here, before any request
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            prepared = prepare(request, connection, loaded=loaded)
        result = prepared.plan
        out(render(result, output_format))
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
@spec_argument
@spec_run_options
@format_option("text", "json", "markdown")
def drift(
    spec: str, local: bool, variables: tuple[str, ...], verbose: bool, output_format: str
) -> None:
    """Compare the live workspace with SPEC. Exit 0 no drift, 2 drift, 1 error.

    Reports changed fields (live -> spec), declared resources that are missing, and live
    resources of declared kinds that the spec does not name.
    """
    setup_logging(verbose)
    with user_errors():
        request = PlanRequest(spec, parse_vars(variables))
        loaded = load(request)
        with connect(local=local, on_event=request_logger(verbose)) as connection:
            prepared = prepare(request, connection, drift=True, loaded=loaded)
        report = prepared.plan
        out(render(report, output_format, drift=True))
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
            live = read_live(connection.api, workspace)
        if not live.workspace_id:
            raise ConfigError(f"no workspace named {workspace} is visible to this token")
        out(export_spec(live))
