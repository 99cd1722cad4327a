"""The order of apply: a graph of steps (create, update, delete of one address).

Creates and updates wait for the creates of what they reference; deletes wait for
everything that stops referencing the deleted object (its own delete, or an update that
detaches it); a replace is a delete followed by a create of the same address, since names
are identities and must be free again before the new object takes them.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from fbplan.errors import CycleError
from fbplan.model import Resource, State
from fbplan.plan.model import Action, Plan


class StepOp(StrEnum):
    """What a step does to its address; a closed set, so a `match` over it is checked."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, order=True)
class Step:
    address: str
    op: StepOp

    def __str__(self) -> str:
        return f"{self.op} {self.address}"


def steps_of(plan: Plan) -> list[Step]:
    steps: list[Step] = []
    for change in plan.actionable:
        match change.action:
            case Action.CREATE:
                steps.append(Step(change.address, StepOp.CREATE))
            case Action.UPDATE:
                steps.append(Step(change.address, StepOp.UPDATE))
            case Action.DELETE:
                steps.append(Step(change.address, StepOp.DELETE))
            case Action.REPLACE:
                steps += [Step(change.address, StepOp.DELETE), Step(change.address, StepOp.CREATE)]
            case Action.NOOP:
                pass
    return steps


def build_graph(plan: Plan, desired: State, live: State) -> dict[Step, set[Step]]:
    """Each step mapped to the steps it must wait for."""
    steps = steps_of(plan)
    index: dict[tuple[str, str], Step] = {(s.address, s.op): s for s in steps}
    graph: dict[Step, set[Step]] = {s: set() for s in steps}
    referrers = _referrers(live)
    for step in steps:
        if step.op in (StepOp.CREATE, StepOp.UPDATE):
            _wait_for_referenced(graph[step], desired.get(step.address), index)
            if step.op is StepOp.CREATE and (step.address, StepOp.DELETE) in index:
                graph[step].add(index[(step.address, StepOp.DELETE)])
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
        if (ref, StepOp.CREATE) in index:
            waits.add(index[(ref, StepOp.CREATE)])


def _wait_for_referrers(
    waits: set[Step], referrers: Iterable[str], index: Mapping[tuple[str, str], Step]
) -> None:
    for other in referrers:
        for op in (StepOp.DELETE, StepOp.UPDATE):
            if (other, op) in index:
                waits.add(index[(other, op)])


def order(graph: Mapping[Step, Iterable[Step]]) -> list[Step]:
    """A topological order, level by level (ties broken by address); raises CycleError on a
    cycle, naming the steps around it."""
    sorter: graphlib.TopologicalSorter[Step] = graphlib.TopologicalSorter()
    for step in sorted(graph):  # sorted: the same cycle is named whatever the dict order
        sorter.add(step, *sorted(graph[step]))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle: list[Step] = exc.args[1][::-1]  # graphlib lists it against the waits
        error = CycleError("dependency cycle: " + " -> ".join(str(s) for s in cycle))
        error.cycle = cycle
        raise error from exc
    done: list[Step] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        done += ready
        sorter.done(*ready)
    return done


def find_reference_cycle(state: State) -> list[str] | None:
    """A cycle among the resources' references, as addresses, or None.

    Whether there is one is found in linear time; only a state that has one pays for
    `order`, which names the cycle (the same one as ever, whatever the dict order).
    """
    return _cycle_named_by_order(state) if _has_reference_cycle(state) else None


def _cycle_named_by_order(state: State) -> list[str] | None:
    graph = {
        Step(r.address, StepOp.CREATE): {
            Step(ref, StepOp.CREATE) for ref in r.refs if ref in state.resources
        }
        for r in state
    }
    try:
        order(graph)
    except CycleError as error:
        return [step.address for step in error.cycle]
    return None


def _has_reference_cycle(state: State) -> bool:
    """Kahn's algorithm over the references between the state's resources: a cycle is
    what is left once every resource whose references are all done is done."""
    waiting: dict[str, int] = {}
    referrers: dict[str, list[str]] = {}
    for address, resource in state.resources.items():
        refs = {ref for ref in resource.refs if ref in state.resources}
        waiting[address] = len(refs)
        for ref in refs:
            referrers.setdefault(ref, []).append(address)
    ready = [address for address, count in waiting.items() if count == 0]
    done = 0
    while ready:
        done += 1
        for other in referrers.get(ready.pop(), ()):
            waiting[other] -= 1
            if waiting[other] == 0:
                ready.append(other)
    return done < len(waiting)
