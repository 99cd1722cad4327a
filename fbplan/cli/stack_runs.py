"""What `plan`, `drift`, `validate` and `apply` do for one stack of several, over the same
stages as one spec (`fbplan.workflow`), returning a `StackResult` instead of exiting.

Every stack has a backend client of its own (its retries and `-v` lines named after it),
and all draw on one `RequestBudget`; with `--local`, one embedded emulator serves them all.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fbplan.backend.budget import RequestBudget
from fbplan.backend.client import ClientEvent
from fbplan.cli.apply import lock
from fbplan.cli.console import err, request_logger
from fbplan.cli.output import publish_outputs
from fbplan.cli.plan import render
from fbplan.cli.progress import step_line
from fbplan.cli.smoke import render_smoke
from fbplan.errors import ConfigError
from fbplan.events import Event, StepEvent, StepTracker, heartbeat_interval
from fbplan.model import State
from fbplan.plan.document import to_document
from fbplan.plan.graph import steps_of
from fbplan.plan.model import Plan
from fbplan.plan.render.markdown import render_markdown
from fbplan.smoke.runner import require_packages, run_smoke
from fbplan.spec import Spec
from fbplan.spec.build import spec_warnings
from fbplan.stacks import Stack, StackResult
from fbplan.workflow import (
    ApplyReport,
    ApplyRequest,
    Connection,
    PlanRequest,
    Prepared,
    apply_prepared,
    connect,
    load,
    prepare,
)

Loaded = tuple[Spec, State]


class StacksRunning:
    """The steps running in every stack's apply, for the Ctrl-C message."""

    def __init__(self) -> None:
        self._trackers: dict[str, StepTracker] = {}
        self._lock = threading.Lock()

    @contextmanager
    def tracking(self, stack: str, tracker: StepTracker) -> Iterator[StepTracker]:
        with self._lock:
            self._trackers[stack] = tracker
        try:
            yield tracker
        finally:
            with self._lock:
                del self._trackers[stack]

    def running(self) -> list[str]:
        with self._lock:
            trackers = list(self._trackers.items())
        return sorted(f"[{name}] {step}" for name, t in trackers for step in t.running())


@dataclass
class Settings:
    """The flags a run of several stacks shares (the CLI's own, as click parsed them)."""

    params: Mapping[str, Any]
    section_chars: int = 60_000  # room for one stack's markdown section
    stop: threading.Event = field(default_factory=threading.Event)
    running: StacksRunning = field(default_factory=StacksRunning)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None else value


class Backends:
    """One request budget for the run; a client per stack that draws on it."""

    def __init__(self, local: bool, verbose: bool, max_rps: float | None) -> None:
        self.budget = RequestBudget(max_rps)
        self._verbose = verbose
        self._local = connect(local=True, on_event=self._logger("local")) if local else None
        if not local:  # FB_JWT and FB_BACKEND_URL: one error for the run, not one a stack
            connect(local=False).close()

    def _logger(self, name: str) -> Callable[[ClientEvent], None]:
        log = request_logger(self._verbose)
        return lambda event: log(dataclasses.replace(event, method=f"[{name}] {event.method}"))

    @contextmanager
    def connection(self, stack: Stack) -> Iterator[Connection]:
        on_event = self._logger(stack.name)
        if self._local is None:
            with connect(local=False, on_event=on_event) as connection:
                connection.api.budget = self.budget
                yield connection
            return
        shared = self._local
        api = shared.api.sibling(on_event)
        try:  # the emulator is the run's: only this stack's client is closed here
            yield Connection(
                api, shared.local, shared.fingerprint_path, parallelism=shared.parallelism
            )
        finally:
            api.close()

    def close(self) -> None:
        if self._local is not None:
            self._local.close()


def load_stack(stack: Stack, settings: Settings, *, require_env: bool = True) -> Loaded:
    return load(_request(stack, settings), require_env=require_env)


def _request(stack: Stack, settings: Settings) -> PlanRequest:
    return PlanRequest(
        stack.path,
        settings.get("cli_vars", {}),
        force=settings.get("force", False),
        checks=settings.get("checks"),
    )


def validate_stack(stack: Stack, loaded: Loaded, settings: Settings) -> StackResult:
    spec, desired = loaded
    warnings = [*map(str, spec.warnings), *spec_warnings(spec, desired)]
    lines = [f"warning: {w}" for w in warnings] + [f"valid ({len(desired)} resources)."]
    document = {"resources": len(desired), "warnings": warnings}
    return StackResult(
        stack, 0, "valid", desired.workspace, None, text="\n".join(lines), document=document
    )


def plan_stack(
    stack: Stack, loaded: Loaded, backends: Backends, settings: Settings, *, drift: bool = False
) -> StackResult:
    request = _request(stack, settings)
    with backends.connection(stack) as connection:
        plan = prepare(request, connection, drift=drift, loaded=loaded).plan
    changes = len(plan.actionable) + (len(plan.unmanaged) if drift else 0)
    if drift:
        code, word = (2, "drift") if changes else (0, "no drift")
    elif plan.blockers:
        code, word = 3, "blocked"
    else:
        code = 2 if settings.get("detailed_exitcode") and changes else 0
        word = "changes" if changes else "no changes"
    return _shown(StackResult(stack, code, word, plan.workspace, changes), plan, settings, drift)


def _shown(result: StackResult, plan: Plan, settings: Settings, drift: bool) -> StackResult:
    """The plan as each format shows it (only the one asked for is rendered)."""
    match settings.get("output_format", "text"):
        case "json":
            result.document = to_document(plan, drift=drift)
        case "markdown":
            result.markdown = render_markdown(plan, drift=drift, max_chars=settings.section_chars)
        case _:
            result.text = render(plan, "text", drift=drift)
    return result


def apply_stack(
    stack: Stack, loaded: Loaded, backends: Backends, settings: Settings
) -> StackResult:
    """Lock, plan, apply, outputs and smoke, as `fbplan apply SPEC --yes` does."""
    request = _request(stack, settings)
    if not settings.get("no_smoke"):
        require_packages(loaded[0])  # this stack's failure, before its first request
    workspace = loaded[1].workspace
    texts: list[str] = []
    held = settings.get("break_lock", False), settings.get("lock_timeout", 0.0)
    with backends.connection(stack) as connection:
        with lock(workspace, "apply", *held):
            prepared = prepare(request, connection, loaded=loaded)
            texts.append(render(prepared.plan, "text"))
            code = _carry_out(prepared, connection, settings, stack, texts)
            pins = publish_outputs(prepared.spec, connection) if code == 0 else None
        if code == 0 and not settings.get("no_smoke") and prepared.spec.data.get("smoke"):
            report = run_smoke(prepared.spec, connection, pins=pins)
            texts.append(render_smoke(report, "text"))
            code = 4 if report.error() is not None else 0
    word = {0: "applied", 1: "failed", 4: "smoke failed", 130: "interrupted"}[code]
    if code == 0 and not prepared.plan.has_changes:
        word = "no changes"
    changes = len(prepared.plan.actionable)
    return StackResult(stack, code, word, workspace, changes, text="\n".join(texts))


def _carry_out(
    prepared: Prepared, connection: Connection, settings: Settings, stack: Stack, texts: list[str]
) -> int:
    if not prepared.plan.has_changes:
        return 0
    apply_request = ApplyRequest(
        settings.get("allow_delete", False), settings.get("parallelism", 8)
    )

    def show(event: Event) -> None:  # the steps of several stacks interleave: name each
        if isinstance(event, StepEvent):
            err(f"[{stack.name}] {step_line(event)}")

    plan = prepared.plan
    kinds = {change.address: change.kind for change in plan.changes}
    tracker = StepTracker(kinds, len(steps_of(plan)), show, heartbeat_interval())
    with tracker, settings.running.tracking(stack.name, tracker):
        report = apply_prepared(prepared, connection, apply_request, tracker, settings.stop)
    texts.extend(_failures(report))
    texts.append(report.summary())
    if report.not_started:
        return 130
    return 0 if report.ok else 1


def _failures(report: ApplyReport) -> list[str]:
    lines = [f"Failed: {result.step}: {result.message}" for result in report.of("failed")]
    if report.not_started:
        lines.append(f"Not started (Ctrl-C): {len(report.not_started)} steps; apply again.")
    return lines


def refuse_single_stack_flags(command: str, params: Mapping[str, Any]) -> None:
    """Flags that name one workspace's resources or one plan file have no meaning for
    several stacks: refused in one sentence before anything runs."""
    if params.get("out_path"):
        raise ConfigError(
            "--out saves the plan of one stack; with several stacks run plan once per stack "
            "(fbplan stacks --format github-matrix lists them)"
        )
    if params.get("plan_path"):
        raise ConfigError("give either SPEC or --plan PLANFILE, not both")
    for flag, name in (("targets", "--target"), ("excludes", "--exclude"), ("rotate", "--rotate")):
        if params.get(flag):
            raise ConfigError(f"{name} names one workspace's resources; use it with one stack")
    streams = {"apply": "json", "destroy": "json", "drift": "events"}
    if command in streams and params.get("output_format") == streams[command]:
        raise ConfigError(
            f"{command} streams the events of one stack as JSON lines; with several stacks "
            f"run {command} once per stack (fbplan stacks --format github-matrix lists them)"
        )
    if command == "apply" and not params.get("yes"):
        raise ConfigError(
            "apply of several stacks does not ask for each: review them with fbplan plan, "
            "then pass --yes"
        )
