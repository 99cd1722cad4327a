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
    for step in steps:
        if step.op in ("create", "update"):
            _wait_for_referenced(graph[step], desired.get(step.address), index)
            if step.op == "create" and (step.address, "delete") in index:
                graph[step].add(index[(step.address, "delete")])
        else:
            _wait_for_referrers(graph[step], step.address, live, index)
    order(graph)  # raises on a cycle
    return graph


def _wait_for_referenced(
    waits: set[Step], resource: Resource | None, index: Mapping[tuple[str, str], Step]
) -> None:
    for ref in resource.refs if resource else ():
        if (ref, "create") in index:
            waits.add(index[(ref, "create")])


def _wait_for_referrers(
    waits: set[Step], address: str, live: State, index: Mapping[tuple[str, str], Step]
) -> None:
    for other in live:
        if address in other.refs:
            for op in ("delete", "update"):
                if (other.address, op) in index:
                    waits.add(index[(other.address, op)])


def order(graph: Mapping[Step, Iterable[Step]]) -> list[Step]:
    """A topological order (ties broken by address); raises CycleError on a cycle."""
    waits = {step: set(deps) for step, deps in graph.items()}
    done: list[Step] = []
    while waits:
        ready = sorted(s for s, deps in waits.items() if not deps)
        if not ready:
            cycle = _a_cycle(waits)
            error = CycleError("dependency cycle: " + " -> ".join(str(s) for s in cycle))
            error.cycle = cycle
            raise error
        for step in ready:
            del waits[step]
            done.append(step)
        for deps in waits.values():
            deps.difference_update(ready)
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
