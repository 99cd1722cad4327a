"""The order of apply: a graph of steps (create, update, delete of one address).

Creates and updates wait for the creates of what they reference; deletes wait for
everything that stops referencing the deleted object (its own delete, or an update that
detaches it); a replace is a delete followed by a create of the same address, since names
are identities and must be free again before the new object takes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from fbplan.errors import CycleError
from fbplan.model import Resource, State
from fbplan.plan.model import Action, Plan

Op = Literal["create", "update", "delete"]


@dataclass(frozen=True, order=True)
class Step:
    address: str
    op: Op

    def __str__(self) -> str:
        return f"{self.op} {self.address}"


def steps_of(plan: Plan) -> list[Step]:
    steps: list[Step] = []
    for change in plan.actionable:
        match change.action:
            case Action.CREATE:
                steps.append(Step(change.address, "create"))
            case Action.UPDATE:
                steps.append(Step(change.address, "update"))
            case Action.DELETE:
                steps.append(Step(change.address, "delete"))
            case Action.REPLACE:
                steps += [Step(change.address, "delete"), Step(change.address, "create")]
            case Action.NOOP:
                pass
    return steps


def build_graph(plan: Plan, desired: State, live: State) -> dict[Step, set[Step]]:
    """Each step mapped to the steps it must wait for."""
    steps = steps_of(plan)
    index = {(s.address, s.op): s for s in steps}
    graph: dict[Step, set[Step]] = {s: set() for s in steps}
    referrers = _referrers(live)
    for step in steps:
        if step.op in ("create", "update"):
            _wait_for_referenced(graph[step], desired.get(step.address), index)
            if step.op == "create" and (step.address, "delete") in index:
                graph[step].add(index[(step.address, "delete")])
        else:
            _wait_for_referrers(graph[step], referrers.get(step.address, ()), index)
    order(graph)  # raises on a cycle
    return graph


def _referrers(live: State) -> dict[str, list[str]]:
    """Address -> the addresses of the live objects that reference it."""
    referrers: dict[str, list[str]] = {}
    for other in live:
        for ref in other.refs:
            referrers.setdefault(ref, []).append(other.address)
    return referrers


def _wait_for_referenced(
    waits: set[Step], resource: Resource | None, index: Mapping[tuple[str, str], Step]
) -> None:
    for ref in resource.refs if resource else ():
        if (ref, "create") in index:
            waits.add(index[(ref, "create")])


def _wait_for_referrers(
    waits: set[Step], referrers: Iterable[str], index: Mapping[tuple[str, str], Step]
) -> None:
    for other in referrers:
        for op in ("delete", "update"):
            if (other, op) in index:
                waits.add(index[(other, op)])


def order(graph: Mapping[Step, Iterable[Step]]) -> list[Step]:
    """A topological order, level by level (ties broken by address); raises CycleError on a
    cycle. Each step and edge is looked at once, so a large plan costs linear time."""
    waits = {step: set(deps) for step, deps in graph.items()}
    dependents: dict[Step, list[Step]] = {step: [] for step in waits}
    for step, deps in waits.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(step)
    count = {step: len(deps) for step, deps in waits.items()}
    done: list[Step] = []
    ready = sorted(s for s, n in count.items() if n == 0)
    while ready:
        done += ready
        unblocked = []
        for step in ready:
            for dependent in dependents.get(step, ()):
                count[dependent] -= 1
                if count[dependent] == 0:
                    unblocked.append(dependent)
        ready = sorted(unblocked)
    if len(done) < len(waits):
        finished = set(done)
        blocked = {s: deps - finished for s, deps in waits.items() if s not in finished}
        cycle = _a_cycle(blocked)
        error = CycleError("dependency cycle: " + " -> ".join(str(s) for s in cycle))
        error.cycle = cycle
        raise error
    return done


def _a_cycle(blocked: Mapping[Step, set[Step]]) -> list[Step]:
    """Follow waits from the smallest blocked step until one repeats."""
    path = [min(blocked)]
    while True:
        nxt = min(blocked[path[-1]])
        if nxt in path:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)


def find_reference_cycle(state: State) -> list[str] | None:
    """A cycle among the resources' references, as addresses, or None."""
    graph = {
        Step(r.address, "create"): {Step(ref, "create") for ref in r.refs if ref in state.resources}
        for r in state
    }
    try:
        order(graph)
    except CycleError as error:
        return [step.address for step in error.cycle]
    return None
