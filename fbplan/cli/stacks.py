"""Several stacks in one run (`fbplan plan|apply|drift|validate STACKS...`) and
`fbplan stacks --format github-matrix STACKS...`.

The stacks run `--stack-parallelism` at a time under one request budget (`--max-rps`); each
stack's plan or report is shown in the stacks' order, then one summary table (stack,
workspace, changes, result, exit) for them all, in text, JSON or markdown (one pull-request
comment, a section per stack). The run exits with the most severe of the stacks' exit
codes (`fbplan.stacks.SEVERITY`). Imports stay light: `validate` loads this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from fbplan.cli.console import err, out, parse_vars, setup_logging, user_errors
from fbplan.cli.options import var_option
from fbplan.stacks import (
    Stack,
    StackResult,
    changed_files,
    discover,
    guarded,
    is_several,
    most_severe,
    run_each,
    stack_files,
)

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STACK_PARALLELISM = 4
COMMENT_CHARS = 60_000  # one pull-request comment (GitHub refuses more than 65,536)


def specs_argument(f: F) -> F:
    """SPEC...: one spec as always, or several stacks (`single_spec` tells them apart)."""
    return click.argument("specs", nargs=-1, required=True, type=click.Path(), metavar="SPEC...")(f)


def stack_parallelism_option(f: F) -> F:
    return click.option(
        "--stack-parallelism",
        default=DEFAULT_STACK_PARALLELISM,
        show_default=True,
        type=click.IntRange(1, 32),
        help="With several stacks: how many run at once.",
    )(f)


def stack_options(f: F) -> F:
    """--stack-parallelism and --max-rps: the commands that talk to the backend."""
    f = stack_parallelism_option(f)
    return click.option(
        "--max-rps",
        type=click.FloatRange(min=0.1, max=10_000),
        default=None,
        help="Requests a second to the backend for the whole run, all stacks together "
        "(default: no limit; a 429 slows every stack either way).",
    )(f)


def single_spec(command: str, specs: tuple[str, ...]) -> str:
    """The one SPEC of a command, which then runs exactly as it always has; with several
    stacks, runs them all here and exits with the run's exit code."""
    if not is_several(specs):
        return specs[0]
    params = click.get_current_context().params
    setup_logging(bool(params.get("verbose")))
    with user_errors():
        code = run_several(command, params)
    sys.exit(code)


def run_several(command: str, params: dict[str, Any]) -> int:
    """Run `command` over the stacks in `params["specs"]`; the exit code of the run."""
    from fbplan.checks import load_checks  # here: CEL and jsonschema, not for `validate`
    from fbplan.cli import stack_runs as runs

    runs.refuse_single_stack_flags(command, params)
    stacks = discover(params["specs"])
    cli_vars = parse_vars(params.get("variables") or ())
    checks_path = params.get("checks_path")
    checks = load_checks(checks_path) if checks_path else None  # before any request
    settings = runs.Settings(
        {**params, "cli_vars": cli_vars, "checks": checks}, section_room(len(stacks))
    )
    parallelism = params.get("stack_parallelism") or DEFAULT_STACK_PARALLELISM
    require_env = command != "validate"
    loads = run_each(
        stacks,
        lambda s: guarded(s, lambda s: runs.load_stack(s, settings, require_env=require_env)),
        parallelism,
    )
    loads = _one_workspace_each(stacks, loads)
    if command == "validate":
        results = [
            x if isinstance(x, StackResult) else runs.validate_stack(s, x, settings)
            for s, x in zip(stacks, loads, strict=True)
        ]
        return _report(command, results, params, None)
    backends = runs.Backends(
        params.get("local", False), params.get("verbose", False), params.get("max_rps")
    )
    work = {
        "plan": runs.plan_stack,
        "drift": lambda s, x, b, c: runs.plan_stack(s, x, b, c, drift=True),
        "apply": runs.apply_stack,
    }[command]
    loaded = dict(zip(stacks, loads, strict=True))

    def one(stack: Stack) -> StackResult:
        done = loaded[stack]
        return done if isinstance(done, StackResult) else work(stack, done, backends, settings)

    try:
        results = _run_guarded(command, stacks, one, parallelism, settings)
    finally:
        backends.close()
    return _report(command, results, params, backends.budget.report())


def _run_guarded(
    command: str,
    stacks: list[Stack],
    one: Callable[[Stack], StackResult],
    parallelism: int,
    settings: Any,
) -> list[StackResult]:
    if command != "apply":
        return run_each(stacks, lambda stack: guarded(stack, one), parallelism)
    from fbplan.cli.apply import ctrl_c_stops, stopped_at_once

    with stopped_at_once(), ctrl_c_stops(settings.stop, settings.running):
        return _apply_in_groups(stacks, one, parallelism, settings.get("local", False))


def _apply_in_groups(
    stacks: list[Stack], one: Callable[[Stack], StackResult], parallelism: int, local: bool
) -> list[StackResult]:
    """Stacks that keep their fingerprints in one file (specs side by side in a folder, or
    every stack with --local) are applied one after another: each rewrites the whole file."""
    groups: dict[Path | None, list[Stack]] = {}
    for stack in stacks:
        groups.setdefault(None if local else stack.folder.resolve(), []).append(stack)

    def in_turn(group: list[Stack]) -> list[StackResult]:
        return [guarded(stack, one) for stack in group]

    done = {r.stack: r for rs in run_each(list(groups.values()), in_turn, parallelism) for r in rs}
    return [done[stack] for stack in stacks]


def _one_workspace_each(stacks: list[Stack], loads: list[Any]) -> list[Any]:
    """A workspace named by two stacks: the later ones fail (they would fight over it)."""
    first: dict[str, Stack] = {}
    checked: list[Any] = []
    for stack, loaded in zip(stacks, loads, strict=True):
        if not isinstance(loaded, StackResult):
            workspace = loaded[1].workspace
            if workspace in first:
                message = (
                    f"the workspace {workspace} is also the workspace of the stack "
                    f"{first[workspace].name}; give each workspace one stack"
                )
                loaded = StackResult(stack, 1, "error", workspace, message=message)
            else:
                first[workspace] = stack
        checked.append(loaded)
    return checked


# --- the report: each stack's output, then one summary -----------------------------------


def _report(command: str, results: list[StackResult], params: dict[str, Any], budget: Any) -> int:
    code = most_severe(r.exit for r in results)
    for result in results:
        if result.message:
            err(f"Error ({result.stack.name}): {result.message}")
    if budget is not None:
        err(_budget_line(budget))
    match params.get("output_format") or "text":
        case "json":
            from fbplan.plan.document import dumps

            out(dumps(_document(command, results, code, budget)))
        case "markdown":
            out(_markdown(command, results, code))
        case _:
            for result in results:
                out(f"=== {_label(result)} ===")
                out(result.text or f"Error: {result.message}")
                out("")
            out(summary_table(results, code))
    return code


def _label(result: StackResult) -> str:
    where = f" (workspace {result.workspace})" if result.workspace else ""
    return f"stack {result.stack.name}{where}"


def _budget_line(report: Any) -> str:
    line = f"Requests: {report.requests} for all stacks"
    if report.throttles:
        line += (
            f"; {report.throttles} refused with 429, which slowed every stack "
            f"(to {report.slowest_rate:.1f} requests a second at the lowest)"
        )
    if report.waited_seconds >= 0.05:
        line += f"; {report.waited_seconds:.1f} s waited for the request budget in all"
    return line + "."


def _row(result: StackResult) -> list[str]:
    changes = "-" if result.changes is None else str(result.changes)
    return [result.stack.name, result.workspace or "-", changes, result.result, str(result.exit)]


HEADER = ["STACK", "WORKSPACE", "CHANGES", "RESULT", "EXIT"]


def summary_table(results: list[StackResult], code: int) -> str:
    rows = [HEADER, *map(_row, results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    failed = sum(1 for r in results if r.exit in (1, 3, 4, 130))
    lines.append(
        f"{len(results)} stacks, {failed} failed or blocked; exit code {code} "
        "(the most severe of the stacks')."
    )
    return "\n".join(lines)


def _document(command: str, results: list[StackResult], code: int, budget: Any) -> dict[str, Any]:
    key = "validation" if command == "validate" else "plan"
    stacks = [
        {
            "stack": r.stack.name,
            "workspace": r.workspace,
            "changes": r.changes,
            "result": r.result,
            "exit": r.exit,
            "error": r.message,
            key: r.document or None,
        }
        for r in results
    ]
    document: dict[str, Any] = {"kind": "stacks", "command": command, "exit": code}
    document["stacks"] = stacks
    if budget is not None:
        document["requests"] = {
            "total": budget.requests,
            "throttled": budget.throttles,
            "waited_seconds": round(budget.waited_seconds, 3),
        }
    return document


def _markdown(command: str, results: list[StackResult], code: int) -> str:
    from fbplan.plan.render.markdown import code as span
    from fbplan.plan.render.markdown import text as plain

    lines = [
        f"## fbplan {command}: {len(results)} stacks",
        "",
        f"**Exit code {code}**, the most severe of the stacks'.",
        "",
        "| stack | workspace | changes | result | exit |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        cells = _row(result)
        lines.append(
            f"| {span(cells[0], cell=True)} | {span(cells[1], cell=True)} | {cells[2]} "
            f"| {plain(cells[3])} | {cells[4]} |"
        )
    for result in results:  # a plan's section starts with its own ### title
        lines += ["", "---", ""]
        if result.markdown.strip():
            lines += [result.markdown.strip(), "", f"Stack {span(result.stack.name)}."]
        else:
            lines.append(f"### fbplan {command}: stack {span(result.stack.name)}")
            lines += ["", f"> **Error:** {plain(result.message or result.result)}"]
    doc = "\n".join(lines) + "\n"
    if len(doc) > COMMENT_CHARS:
        cut = "\n\n… (truncated; see the full plans in the CI log)\n"
        doc = doc[: COMMENT_CHARS - len(cut)] + cut
    return doc


def section_room(count: int) -> int:
    """Characters each stack's markdown section may take in one comment."""
    head = 400 + 160 * count  # the title and the summary table
    return max(300, (COMMENT_CHARS - head) // max(count, 1) - 60)


# --- fbplan stacks ----------------------------------------------------------------------


@click.command()
@click.argument("spec", nargs=-1, required=True, type=click.Path())
@click.option(
    "--changed-since",
    metavar="REF",
    help="Only the stacks whose files changed since the git commit REF (e.g. origin/main).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["github-matrix"]),
    default="github-matrix",
    show_default=True,
    help="Output format.",
)
@var_option
def stacks(
    spec: tuple[str, ...], changed_since: str | None, output_format: str, variables: tuple[str, ...]
) -> None:
    """Print a CI job matrix with one job per stack (one spec per workspace).

    \b
    {"include":[{"stack":PATH,"workspace":NAME},...]}, on one line, for GitHub
    Actions' strategy.matrix. With --changed-since REF, only the stacks whose spec files,
    folder, or files read with ${file:PATH} changed since REF (git diff, plus new files).
    """
    setup_logging(False)
    with user_errors():
        from fbplan.spec import load_spec

        found = discover(spec)
        cli_vars = parse_vars(variables)
        changed = changed_files(changed_since, found[0].folder) if changed_since else None
        include = []
        for stack in found:
            loaded = load_spec(stack.path, cli_vars=cli_vars, require_env=False)
            if changed is None or _touched(stack, loaded.files, changed):
                include.append({"stack": stack.name, "workspace": loaded.workspace_name})
        out(json.dumps({"include": include}, ensure_ascii=False, separators=(",", ":")))


def _touched(stack: Stack, spec_files: Sequence[Path], changed: set[Path]) -> bool:
    if stack_files(stack, spec_files) & changed:
        return True
    if not stack.path.is_dir():
        return False
    folder = stack.path.resolve()
    return any(path.is_relative_to(folder) for path in changed)
