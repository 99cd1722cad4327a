"""Carry out a Plan: a parallel walk of the step graph.

Independent steps run at the same time (up to `parallelism`); a step starts when every
step it waits for is done; a failed step skips everything that waits for it, directly or
not, and lets independent work finish. The report lists what was done, what failed and
what was skipped, so that running apply again converges.

Creates whose outcome is unknown (a timeout or 5xx after the request was sent) are looked
up by name before any retry, so a retry never makes a duplicate. A key whose one-time
secret was lost that way is deleted and created again, since a key nobody holds the
secret of is useless. One-time secrets go to the sink before the step counts as done.

When `stop` is set (the first Ctrl-C), no step starts any more: the running ones finish,
write their secrets and fingerprints, and the report lists what was not started. An
exception in the walk itself (the second Ctrl-C) leaves at once, without waiting for the
running steps.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, assert_never

from fbplan.backend.client import QUOTA_EXCEEDED
from fbplan.errors import ApiError, BackendError, FbplanError, StepFailed
from fbplan.kinds import REGISTRY
from fbplan.kinds.base import DEFAULT_PARALLELISM, ApplyContext, Created, UnknownReference
from fbplan.model import Resource, State
from fbplan.plan.graph import Step, StepOp, build_graph
from fbplan.plan.model import Action, Plan
from fbplan.secrets.fingerprints import FingerprintStore
from fbplan.secrets.sinks import SecretSink
from fbplan.secrets.values import redact, register

Status = Literal["done", "failed", "skipped"]
AMBIGUOUS_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class StepResult:
    step: Step
    status: Status
    message: str = ""
    seconds: float = 0.0


@dataclass
class ApplyReport:
    results: list[StepResult] = field(default_factory=list)
    not_started: list[Step] = field(default_factory=list)  # left when apply was stopped

    def of(self, status: Status) -> list[StepResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> bool:
        return not self.of("failed") and not self.of("skipped") and not self.not_started

    def summary(self) -> str:
        done, failed, skipped = (len(self.of(s)) for s in ("done", "failed", "skipped"))
        stopped = f", {len(self.not_started)} not started" if self.not_started else ""
        return f"Apply: {done} done, {failed} failed, {skipped} skipped{stopped}."


@dataclass
class ExecuteOptions:
    parallelism: int = DEFAULT_PARALLELISM
    sink: SecretSink | None = None
    fingerprints: FingerprintStore | None = None
    quota_waits: Sequence[float] = (2.0, 5.0, 10.0)
    sleep: Callable[[float], None] = time.sleep
    on_step: Callable[[Step, str, str], None] | None = None  # (step, "start"|status, message)
    stop: threading.Event | None = None  # set: start no more steps (Ctrl-C)


def execute(
    plan: Plan, desired: State, live: State, ctx: ApplyContext, options: ExecuteOptions
) -> ApplyReport:
    graph = build_graph(plan, desired, live)
    runner = _StepRunner(desired, live, ctx, options)
    runner.recreated = {c.address for c in plan.changes if c.action is Action.REPLACE}
    report = ApplyReport()
    waiting = {step: set(deps) for step, deps in graph.items()}
    dependents: dict[Step, set[Step]] = {step: set() for step in graph}
    for step, deps in graph.items():
        for dep in deps:
            dependents[dep].add(step)
    # Steps whose dependencies are all done; finished steps come back through `done` in the
    # order they finish: the walk costs a few operations a step, not a scan of every step.
    ready = [step for step, deps in waiting.items() if not deps]
    done: queue.SimpleQueue[Future[StepResult | None]] = queue.SimpleQueue()
    pool = ThreadPoolExecutor(max_workers=max(1, options.parallelism))
    try:
        running: dict[Future[StepResult | None], Step] = {}
        while waiting or running:
            if not (options.stop is not None and options.stop.is_set()):
                for step in sorted(ready):
                    del waiting[step]
                    future = pool.submit(runner.run, step)
                    running[future] = step
                    future.add_done_callback(done.put)
                ready = []
            if not running:
                break
            finished = [done.get()]
            while not done.empty():
                finished.append(done.get())
            for future in finished:
                step = running.pop(future)
                result = future.result()
                if result is None:  # stopped before it started
                    waiting[step] = set()
                    ready.append(step)
                    continue
                report.results.append(result)
                detail = f"{result.seconds:.1f}s" if result.status == "done" else result.message
                _notify(options, step, result.status, detail)
                if result.status == "done":
                    ready += _unblocked(step, dependents, waiting)
                else:
                    _skip_dependents(step, dependents, waiting, report, options)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # stopped at once: do not wait
        raise
    pool.shutdown()
    report.not_started = sorted(waiting)
    report.results.sort(key=lambda r: (r.step.address, r.step.op))
    return report


def _unblocked(
    finished: Step, dependents: dict[Step, set[Step]], waiting: dict[Step, set[Step]]
) -> list[Step]:
    """The steps that waited for `finished` and for nothing else any more."""
    unblocked = []
    for dependent in dependents[finished]:
        deps = waiting.get(dependent)
        if deps is not None and finished in deps:
            deps.discard(finished)
            if not deps:
                unblocked.append(dependent)
    return unblocked


def _skip_dependents(
    failed: Step,
    dependents: dict[Step, set[Step]],
    waiting: dict[Step, set[Step]],
    report: ApplyReport,
    options: ExecuteOptions,
) -> None:
    pending = list(dependents[failed])
    while pending:
        step = pending.pop()
        if step in waiting:
            del waiting[step]
            message = f"skipped because {failed} did not succeed"
            report.results.append(StepResult(step, "skipped", message))
            _notify(options, step, "skipped", message)
            pending.extend(dependents[step])


def _describe(error: Exception) -> str:
    """One redacted sentence for a failed step."""
    if isinstance(error, UnknownReference):
        return f"the id of {error} is not known (was it created?)"
    if isinstance(error, FbplanError):
        return redact(str(error))
    return redact(f"unexpected {type(error).__name__}: {error}"[:300])


def _notify(options: ExecuteOptions, step: Step, status: str, message: str) -> None:
    if options.on_step:
        options.on_step(step, status, message)


class _StepRunner:
    def __init__(
        self, desired: State, live: State, ctx: ApplyContext, options: ExecuteOptions
    ) -> None:
        self.desired, self.live, self.ctx, self.options = desired, live, ctx, options
        self.recreated: set[str] = set()  # deleted, then created again (replaces)

    def run(self, step: Step) -> StepResult | None:
        """The step's result; None if apply was stopped before the step started (it may
        have waited in the pool's queue)."""
        if self.options.stop is not None and self.options.stop.is_set():
            return None
        _notify(self.options, step, "start", "")
        started = time.monotonic()
        try:
            self._with_quota_pauses(step)
        except Exception as error:  # one step's failure must never abort the others
            return StepResult(step, "failed", _describe(error), time.monotonic() - started)
        return StepResult(step, "done", "", time.monotonic() - started)

    def _with_quota_pauses(self, step: Step) -> None:
        """QUOTA_EXCEEDED is a soft signal: pause and retry within a bound, then fail."""
        waited = 0.0
        for pause in (*self.options.quota_waits, None):
            try:
                return self._run(step)
            except ApiError as error:
                if error.code != QUOTA_EXCEEDED or pause is None:
                    if error.code == QUOTA_EXCEEDED:
                        raise StepFailed(
                            f"quota exceeded (HTTP {error.status}) and still exceeded "
                            f"after waiting {waited:.0f} s; free capacity or raise the quota, "
                            "then apply again"
                        ) from error
                    raise
                self.options.sleep(pause)
                waited += pause

    def _run(self, step: Step) -> None:
        match step.op:
            case StepOp.CREATE:
                self._create(self.desired.resources[step.address])
            case StepOp.UPDATE:
                want = self.desired.resources[step.address]
                REGISTRY[want.kind].update(self.ctx, want, self.live.resources[step.address])
                self._record_fingerprints(want)
            case StepOp.DELETE:
                self._delete(self.live.resources[step.address])
                self.ctx.forget(step.address)
                if step.address not in self.recreated:
                    self._forget(step.address)
            case unknown:
                assert_never(unknown)

    def _forget(self, address: str) -> None:
        """What fbplan kept about an object that is gone for good: its fingerprints, and a
        deleted key's secret in the sink (no application can use it any more)."""
        if self.options.fingerprints:
            self.options.fingerprints.forget(address)
            self.options.fingerprints.save()
        have = self.live.resources[address]
        if self.options.sink and REGISTRY[have.kind].issues_credentials:
            self.options.sink.remove(address)

    def _delete(self, have: Resource) -> None:
        """A 404 means the object is gone: the goal of a delete (it may have been deleted by
        an earlier attempt whose answer was lost). Every delete of an apply goes through
        here: a planned one, and the removal of a key whose secret was lost."""
        try:
            REGISTRY[have.kind].delete(self.ctx, have)
        except ApiError as error:
            if error.status != 404:
                raise

    def _create(self, want: Resource) -> None:
        kind = REGISTRY[want.kind]
        if kind.issues_credentials and self.options.sink is None:
            raise StepFailed(
                "no secret sink is configured, so the new key's secret "
                "would be lost; add secrets.sink to the spec"
            )
        created = self._create_without_duplicates(want)
        self.ctx.set_id(want.address, created.id)
        if created.one_time_secrets:
            self._keep_secrets(want, created)
        self._record_fingerprints(want)

    def _create_without_duplicates(self, want: Resource) -> Created:
        kind = REGISTRY[want.kind]
        for attempt in range(1, AMBIGUOUS_CREATE_ATTEMPTS + 1):
            try:
                return kind.create(self.ctx, want)
            except BackendError as error:  # a timeout may be ambiguous too
                if not error.ambiguous:
                    raise
                last_error = error
            found = kind.find(self.ctx, want)
            if found is not None and not kind.issues_credentials:
                return Created(found.id or "")
            if found is not None:
                # The key exists but its one-time secret never reached us: remove it, so
                # that a retry (now, or on the next apply) makes one whose secret we hold.
                self._remove_orphan_key(want, found)
            if attempt == AMBIGUOUS_CREATE_ATTEMPTS:
                raise last_error
        raise AssertionError("unreachable")

    def _remove_orphan_key(self, want: Resource, found: Resource) -> None:
        try:
            self._delete(found)
        except FbplanError as error:
            raise StepFailed(
                f"the key was created (id {found.id}) but its secret was lost in an unanswered "
                f"request, and removing it failed ({error}); run apply with "
                f"--rotate {want.address} --allow-delete to replace it"
            ) from error

    def _keep_secrets(self, want: Resource, created: Created) -> None:
        register(created.one_time_secrets.get("secret", ""))  # the key id is no secret
        assert self.options.sink is not None
        try:
            self.options.sink.write(want.address, created.one_time_secrets)
        except Exception as error:  # any sink failure must name the orphaned key
            raise StepFailed(
                f"the key was created (id {created.id}) but its secret "
                f"could not be written to the {self.options.sink.description} "
                f"({type(error).__name__}); fix the sink, then run apply with "
                f"--rotate {want.address} --allow-delete to get a new key"
            ) from error

    def _record_fingerprints(self, want: Resource) -> None:
        """Record, and save at once: a run killed later keeps what this step wrote."""
        if self.options.fingerprints and want.secrets:
            for name, value in want.secrets.items():
                self.options.fingerprints.record(want.address, name, value)
            self.options.fingerprints.save()
