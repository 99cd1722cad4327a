"""How apply, destroy and drift show their run: JSON lines on stdout (`--format json`), or
text lines on stderr ("[12/240] bucket.media: Creating..."), or, in a terminal, a live
progress display (rich) above which each finished step stays as one line.

The events come from `fbplan.events`; this module only decides where they go and how they
read. Every text goes through the console's redaction (`out`, `err`), or, for the live
display, through `redact` and `printable` before rich sees it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from fbplan.cli.console import err, out
from fbplan.errors import FbplanError
from fbplan.events import (
    Drifted,
    Event,
    RunStarted,
    SmokeResult,
    StepEvent,
    StepTracker,
    Summary,
    heartbeat_interval,
    to_json,
)
from fbplan.plan.graph import steps_of
from fbplan.plan.model import Action, Plan
from fbplan.plan.render.rows import drift_counts, drift_status
from fbplan.printable import printable
from fbplan.secrets.values import redact, shown

if TYPE_CHECKING:
    from fbplan.smoke import SmokeReport
    from fbplan.workflow import ApplyReport

PROGRESS_ENV = "FBPLAN_PROGRESS"  # "lines": never the live display
_PHRASES = {  # started, running, completed, failed
    "create": ("Creating...", "Still creating...", "Creation complete", "Creation failed"),
    "update": ("Modifying...", "Still modifying...", "Modifications complete", "Update failed"),
    "delete": ("Destroying...", "Still destroying...", "Destruction complete", "Delete failed"),
}


def step_line(event: StepEvent) -> str:
    """One step event as a line of text: "[12/240] bucket.media: Creation complete after 0.1s"."""
    started, running, completed, failed = _PHRASES.get(event.action, (event.action,) * 4)
    seconds = (event.duration_ms or 0) / 1000
    match event.type:
        case "step_started":
            text = started
        case "step_running":
            text = f"{running} ({_elapsed(seconds)} elapsed)"
        case "step_completed":
            text = f"{completed} after {seconds:.1f}s"
        case "step_failed":
            text = f"{failed} after {seconds:.1f}s: {event.error}"
        case "step_skipped":
            text = f"{event.action} {event.reason}"
    return f"[{event.step}/{event.steps}] {event.address}: {text}"


def _elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def live_display_wanted(env: Mapping[str, str] = os.environ) -> bool:
    """A live display only for a person at a terminal: stdout and stderr are terminals, not
    in CI (`CI` set, as GitHub Actions, GitLab and most others do), not a dumb terminal,
    and not turned off with FBPLAN_PROGRESS=lines."""
    return (
        sys.stdout.isatty()
        and sys.stderr.isatty()
        and not env.get("CI")
        and env.get("TERM", "") != "dumb"
        and env.get(PROGRESS_ENV, "") != "lines"
    )


class LineView:
    """Text mode without a terminal: one line on stderr per step event."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepEvent):
            err(step_line(event))

    def close(self) -> None:
        """Nothing to take down."""


class LiveView:
    """Text mode at a terminal: a rich progress bar naming the running steps; each finished
    (or failed, or skipped) step printed above it as one line; the bar removed at the end."""

    def __init__(self, steps: int, title: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn(title, markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("", total=steps)
        self.running: dict[str, StepEvent] = {}
        self.progress.start()

    def __call__(self, event: Event) -> None:
        if not isinstance(event, StepEvent):
            return
        ended = event.type not in ("step_started", "step_running")
        if ended:
            self.running.pop(event.address + event.action, None)
        else:
            self.running[event.address + event.action] = event
        description = _safe(self._describe_running())
        self.progress.update(self.task, description=description, advance=int(ended))
        if ended:  # printed above the bar, which shows the new count at once
            self.console.print(_safe(step_line(event)), markup=False, soft_wrap=True)

    def _describe_running(self) -> str:
        names = [
            f"{e.address} ({_elapsed((e.duration_ms or 0) / 1000)})"
            if e.type == "step_running"
            else e.address
            for e in self.running.values()
        ]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return ", ".join(names[:3]) + more

    def close(self) -> None:
        self.progress.stop()


def _safe(text: str) -> str:
    return printable(redact(text))


@dataclass
class RunOutput:
    """What one run of apply, destroy or drift shows, and its summary: in JSON mode, every
    event as a line on stdout, the summary last (`summarized`), whatever ends the run."""

    command: str
    output_format: str = "text"
    counts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> bool:
        return self.output_format in ("json", "events")

    def emit(self, event: Event) -> None:
        if self.json:
            out(to_json(event))
            sys.stdout.flush()

    def say(self, text: str) -> None:
        """A result line for people (the plan, "Outputs: ..."): stdout in text mode; stderr
        in JSON mode, where stdout carries only events."""
        (err if self.json else out)(text)

    def run_started(self, plan: Plan, backend: str, *, drift: bool = False) -> None:
        if drift:
            counts, steps = dict(drift_counts(plan)), None
        else:
            actions = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
            counts, steps = {a.value: plan.count(a) for a in actions}, len(steps_of(plan))
        workspace = str(shown(plan.workspace))
        self.emit(RunStarted(self.command, workspace, backend, counts, steps))

    @contextmanager
    def steps(self, plan: Plan) -> Iterator[StepTracker]:
        """The executor's observer for this run, rendering as the format says."""
        total, interval = len(steps_of(plan)), heartbeat_interval()
        view: Callable[[Event], None] | LineView | LiveView
        if self.json:
            view = self.emit
        elif live_display_wanted():
            view = LiveView(total, "Applying" if self.command == "apply" else "Destroying")
        else:
            view = LineView()
        kinds = {change.address: change.kind for change in plan.changes}
        try:
            with StepTracker(kinds, total, view, interval) as tracker:
                yield tracker
        finally:
            if isinstance(view, LiveView):
                view.close()

    def applied(self, report: ApplyReport) -> None:
        counts = {s: len(report.of(s)) for s in ("done", "failed", "skipped")}
        self.counts |= {**counts, "not_started": len(report.not_started)}

    def smoke(self, report: SmokeReport) -> None:
        for target in report.targets:
            name = f"smoke_{target.outcome}"
            self.counts[name] = self.counts.get(name, 0) + 1
            self.emit(
                SmokeResult(
                    target.kind,
                    target.name,
                    target.address,
                    target.outcome,
                    round(target.seconds * 1000),
                    target.endpoint,
                    None if target.ok else target.problem(),
                )
            )

    def drifted(self, plan: Plan) -> None:
        self.counts |= dict(drift_counts(plan))
        for change in plan.changes:
            if change.action is not Action.NOOP:
                fields = tuple(f.field for f in change.fields)
                status = drift_status(change.action)
                self.emit(Drifted(change.address, change.kind, status, change.action.value, fields))
        for item in plan.unmanaged:  # left alone: the pruned ones are deletes among changes
            self.emit(Drifted(item.address, item.kind, "unmanaged", "none"))

    @contextmanager
    def summarized(self) -> Iterator[None]:
        """Emit the summary when the run ends, with the exit code it ends with: normally (0),
        by sys.exit, by an fbplan error (its code and sentence), or interrupted (130)."""
        code, error = 0, None
        try:
            yield
        except BaseException as stop:
            code, error = _outcome(stop)
            raise
        finally:
            elapsed = round((time.monotonic() - self.started) * 1000)
            self.emit(Summary(self.command, dict(self.counts), code, elapsed, error))


def _outcome(stop: BaseException) -> tuple[int, str | None]:
    """The exit code and the one-sentence error of what ended a run."""
    match stop:
        case SystemExit(code=int(code)):
            return code, None
        case SystemExit(code=None):
            return 0, None
        case FbplanError():
            return stop.exit_code, str(stop)
        case click.ClickException():
            return 1, stop.format_message()
        case KeyboardInterrupt():
            return 130, "interrupted"
        case _:
            return 1, f"internal error ({type(stop).__name__})"
