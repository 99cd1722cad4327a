"""The stages wired together: connect, load, read live, plan, check, apply.

Commands in `fbplan/cli/` are thin shells over these functions; nothing here prints.
Progress goes through callbacks. Safety checks live here, once, for every command.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fbplan.apply.executor import ApplyReport, ExecuteOptions, execute
from fbplan.backend.client import BackendClient, ClientEvent, request_limits
from fbplan.backend.conflicts import name_conflicts
from fbplan.backend.live import live_digest, read_live, read_org_id
from fbplan.backend.quota import reading_quota
from fbplan.checks import Checks, evaluate
from fbplan.errors import ConfigError, SafetyError
from fbplan.kinds import KINDS, REGISTRY
from fbplan.kinds.base import DEFAULT_PARALLELISM, ApplyContext
from fbplan.model import State
from fbplan.outputs.targets import check_writable as check_targets_writable
from fbplan.plan.ignore import set_aside
from fbplan.plan.model import Action, Blocker, Ignored, Plan
from fbplan.plan.planner import PlanOptions, destroy_plan, make_plan, targeted
from fbplan.plan.quota import QuotaFacts, credit_notes, quota_blockers, quota_report
from fbplan.plan.render.json import to_document
from fbplan.plan.safety import delete_blocker, stale_approvals
from fbplan.secrets.fingerprints import FILE_NAME, FingerprintStore
from fbplan.secrets.sinks import (
    Owner,
    SecretSink,
    backend_name,
    foreign_entries,
    holds_secret_of,
    sink_from_spec,
)
from fbplan.smoke.endpoints import LocalEndpoints
from fbplan.spec import Spec
from fbplan.spec.build import kinds_to_read, load_desired
from fbplan.spec.ignore import approvals, ignore_rules
from fbplan.spec.loader import prune_sections

if TYPE_CHECKING:
    import httpx

LOCAL_DIR = Path(".fbplan")


@dataclass
class Connection:
    """A backend client; when running `--local`, the embedded emulator's own endpoints
    (`local`) and what stops it (`stop_local`). `parallelism` bounds the requests a live
    read has in flight at once (`--parallelism`)."""

    api: BackendClient
    local: LocalEndpoints | None = None
    fingerprint_path: Path | None = None
    stop_local: Callable[[], None] | None = None
    parallelism: int = DEFAULT_PARALLELISM

    @property
    def backend(self) -> str:
        """Which backend this is, as plan files and sink entries record it: `local` for the
        embedded emulator (its port changes at every run), else the backend's URL."""
        return "local" if self.local is not None else str(self.api.base_url)

    def close(self) -> None:
        self.api.close()
        if self.stop_local is not None:
            self.stop_local()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    *,
    local: bool,
    env: Mapping[str, str] | None = None,
    on_event: Callable[[ClientEvent], None] | None = None,
    local_dir: Path = LOCAL_DIR,
    transport: httpx.BaseTransport | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Connection:
    """The backend of FB_BACKEND_URL/FB_JWT, or an embedded emulator kept under .fbplan/.

    `transport` carries the requests to FB_BACKEND_URL instead of the network (e.g.
    `httpx.WSGITransport` over the emulator's app, in process); `--local` starts its own
    emulator on real ports, since smoke checks reach its Bridge Nodes and gateway too.
    """
    env = os.environ if env is None else env
    if not local:
        api = BackendClient.from_env(env, on_event=on_event, transport=transport)
        return Connection(api, parallelism=parallelism)
    if transport is not None:
        raise ValueError("--local starts its own emulator: it takes no transport")
    from fbplan.emulator.server import start_emulator

    local_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    # Not emulator.db: that is where a standalone `fbplan emulator` keeps its state by
    # default, and two emulators must never share one file.
    emulator = start_emulator(local_dir / "local-emulator.db", token)
    api = BackendClient(emulator.backend_url, token, on_event=on_event, **request_limits(env))
    endpoints = LocalEndpoints(tuple(emulator.bridge_urls), emulator.gateway_url)
    fingerprints = local_dir / "local.fingerprints.json"
    return Connection(api, endpoints, fingerprints, emulator.stop, parallelism)


@dataclass
class Prepared:
    """Everything a plan was made from, and the plan."""

    spec: Spec
    desired: State
    live: State
    plan: Plan
    fingerprints: FingerprintStore
    sink: SecretSink | None
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanRequest:
    spec_path: str | Path
    cli_vars: Mapping[str, str] = field(default_factory=dict)
    rotate: Sequence[str] = ()
    targets: Sequence[str] = ()
    force: bool = False
    env: Mapping[str, str] | None = None
    checks: Checks | None = None  # `--checks FILE`, loaded (and compiled) before any request


def load(request: PlanRequest, *, require_env: bool = True) -> tuple[Spec, State]:
    """The spec, validated, and the desired State built from it (no request is sent)."""
    return load_desired(
        request.spec_path, cli_vars=request.cli_vars, env=request.env, require_env=require_env
    )


def prepare(
    request: PlanRequest,
    connection: Connection,
    *,
    destroy: bool = False,
    drift: bool = False,
    loaded: tuple[Spec, State] | None = None,
    quota: QuotaFacts | None = None,
) -> Prepared:
    """Load, read live and plan. `drift` reports only: it skips the checks that matter to
    an apply (organization-wide name conflicts, quota), saving their requests. `quota`:
    the organization's quota and credits if already read (else read beside the workspace)."""
    spec, desired = loaded or load(request)
    apply_checks = not (destroy or drift)
    with reading_quota(connection.api, enabled=apply_checks and quota is None) as read_quota:
        live = read_live(
            connection.api,
            desired.workspace,
            KINDS if destroy else kinds_to_read(spec.data),  # destroy must see all it would hit
            keep=lambda r: REGISTRY[r.kind].belongs(r, desired.get(r.address)),
            parallelism=connection.parallelism,
        )
        quota = quota or read_quota()
    _check_addresses(request, desired, live)
    ignored: list[Ignored] = []
    if not destroy:  # destroy deletes what the spec declares, ignored fields or not
        desired, live, ignored = set_aside(ignore_rules(spec.data), desired, live)
    store = FingerprintStore(
        connection.fingerprint_path or spec.root / FILE_NAME, desired.workspace
    )
    owner = Owner(connection.backend, desired.workspace)
    sink = sink_from_spec((spec.data.get("secrets") or {}).get("sink"), spec.root, owner)
    if not destroy:  # the diff checks these one by one: hash them in parallel first
        store.warm(
            (r.address, name, value)
            for r in desired
            if r.address in live.resources
            for name, value in r.secrets.items()
        )
    options = _plan_options(request, spec, store, sink if apply_checks else None)
    plan = destroy_plan(desired, live, options) if destroy else make_plan(desired, live, options)
    conflicts = name_conflicts(connection.api, plan, desired, live) if apply_checks else []
    if apply_checks and sink is None:
        plan.blockers += _sinkless_keys(plan)
    elif apply_checks and sink is not None and sink.local:
        plan.blockers += _foreign_sink_entries(plan, sink)
    plan.notes += conflicts + _hidden_namesakes(live, desired)
    if quota is not None:
        _check_quota(plan, quota)
    plan.ignored, plan.approved = ignored, approvals(spec.data)
    if not (destroy or request.targets):
        plan.notes += stale_approvals(plan, plan.approved)
    plan.backend, plan.org_id = connection.backend, _org_id(connection, live)
    if apply_checks and request.checks is not None:
        _run_checks(plan, request.checks)
    return Prepared(spec, desired, live, plan, store, sink, conflicts)


def _run_checks(plan: Plan, checks: Checks) -> None:
    """The plan checks, over the plan's JSON document (redacted: no secret reaches a rule);
    each rule that denies is a blocker (exit 3), naming the rule and the resources."""
    plan.checks = evaluate(checks, to_document(plan))
    plan.blockers += [
        Blocker("check", sentence, addresses) for sentence, addresses in plan.checks.blocking()
    ]


def _check_quota(plan: Plan, facts: QuotaFacts) -> None:
    """The quota preflight (`fbplan.plan.quota`): the plan's quota section, a blocker per
    capability its creates would exceed, and notes (quota unknown, credits exhausted)."""
    counted_by = {kind.name: kind.quota_capability for kind in KINDS if kind.quota_capability}
    plan.quota = quota_report(plan.changes, facts, counted_by)
    plan.blockers += quota_blockers(plan.quota)
    plan.notes += [*facts.notes, *credit_notes(plan.quota)]


def _org_id(connection: Connection, live: State) -> str:
    """The organization of the token: known from the live read when the workspace exists
    (or policies were read), else asked for (a plan that creates the workspace)."""
    workspace = live.get("workspace")
    known = live.org_id or (workspace.extra.get("org_id") if workspace else None)
    return str(known or read_org_id(connection.api) or "")


def _new_keys(plan: Plan) -> tuple[str, ...]:
    return tuple(
        c.address
        for c in plan.changes
        if c.action in (Action.CREATE, Action.REPLACE) and REGISTRY[c.kind].issues_credentials
    )


def _sinkless_keys(plan: Plan) -> list[Blocker]:
    """A key's secret is shown once: a plan that creates one with nowhere to keep it fails."""
    keys = _new_keys(plan)
    if not keys:
        return []
    message = (
        f"the plan creates keys whose secret is shown only once ({', '.join(keys)}) but the "
        "spec configures no secrets.sink; add one so no secret is lost"
    )
    return [Blocker("secret-sink", message, keys)]


def _foreign_sink_entries(plan: Plan, sink: SecretSink) -> list[Blocker]:
    """New keys whose sink entry belongs to another backend or workspace: writing theirs
    would lose that environment's secret."""
    foreign = foreign_entries(sink, _new_keys(plan))
    return [Blocker("secret-sink", message, (key,)) for key, message in foreign.items()]


def _hidden_namesakes(live: State, desired: State) -> list[str]:
    """Notes for organization policies left alone although the spec names a policy so."""
    return [
        f"{hidden.address}: an organization-scope policy named {hidden.name} exists; fbplan "
        "leaves it alone, as it may belong to another workspace's spec (delete it by hand if "
        "it was this spec's)"
        for hidden in live.hidden
        if hidden.address in desired.resources
    ]


def _plan_options(
    request: PlanRequest, spec: Spec, store: FingerprintStore, sink: SecretSink | None
) -> PlanOptions:
    return PlanOptions(
        prune=prune_sections(spec.data),
        rotate=frozenset(request.rotate),
        targets=tuple(request.targets),
        force=request.force,
        secret_status=store.status,
        secret_held=holds_secret_of(sink),
        spec_digest=spec.digest,
        spec_path=str(request.spec_path),
        variables=dict(request.cli_vars),
    )


def _check_addresses(request: PlanRequest, desired: State, live: State) -> None:
    known = set(desired.resources) | set(live.resources)
    for address in request.rotate:
        if address not in desired.resources:
            raise ConfigError(f"--rotate {address}: no such resource in the spec")
        if not (
            REGISTRY[desired.resources[address].kind].issues_credentials
            or desired.resources[address].secrets
        ):
            raise ConfigError(f"--rotate {address}: this resource has no secret to rotate")
    for target in request.targets:
        if not any(targeted(address, [target]) for address in known):
            raise ConfigError(f"--target {target}: no such resource in the spec or the workspace")


@dataclass(frozen=True)
class ApplyRequest:
    allow_delete: bool = False
    parallelism: int = DEFAULT_PARALLELISM
    saved_plan: Plan | None = None  # apply --plan: what was reviewed


def check_fresh(prepared: Prepared, request: ApplyRequest) -> None:
    """A saved plan is carried out only against the live state it was made from, and only
    if planning again now gives exactly the saved changes (a value read from the
    environment or a file may have changed since)."""
    saved = request.saved_plan
    if saved is None:
        return
    here = (prepared.plan.backend, prepared.plan.org_id)
    if saved.backend and (saved.backend, saved.org_id) != here:
        raise SafetyError(
            f"the plan was made against {backend_name(saved.backend)} (organization "
            f"{saved.org_id}), and this run is against {backend_name(here[0])} (organization "
            f"{here[1]}); make a new plan against this backend"
        )
    if saved.live_digest != live_digest(prepared.live):
        raise SafetyError("the live workspace changed since the plan was saved; make a new plan")
    now, then = (to_document(p)["changes"] for p in (prepared.plan, saved))
    if now != then:
        differ = sorted({c["address"] for c in now} ^ {c["address"] for c in then}) or sorted(
            a["address"] for a, b in zip(now, then, strict=False) if a != b
        )
        raise SafetyError(
            "planning again gives other changes than the saved plan (a value from the "
            f"environment or a file changed?) at {', '.join(differ[:5])}; make a new plan"
        )


def check_before_apply(prepared: Prepared, request: ApplyRequest) -> None:
    """Every rule that must hold before the first change; raises, changes nothing."""
    plan = prepared.plan
    if prepared.conflicts:
        raise ConfigError(
            "the backend would refuse part of this plan, so nothing was changed: "
            + "; ".join(prepared.conflicts)
        )
    for blocker in plan.blockers:
        raise SafetyError(f"blocked ({blocker.rule}): {blocker.message}")
    deletes = delete_blocker(plan, allow_delete=request.allow_delete, approved=plan.approved)
    if deletes:
        raise SafetyError(f"blocked: {deletes.message}")
    check_targets_writable(prepared.spec)
    if prepared.sink is not None and _new_keys(plan):
        prepared.sink.check_writable()  # before a key whose secret could not be kept exists
        if not prepared.sink.local:  # a local sink was checked by the plan
            for problem in foreign_entries(prepared.sink, _new_keys(plan)).values():
                raise SafetyError(f"blocked (secret-sink): {problem}")


def apply_prepared(
    prepared: Prepared,
    connection: Connection,
    request: ApplyRequest,
    on_step: Callable[..., None] | None = None,
    stop: threading.Event | None = None,
) -> ApplyReport:
    """Carry out the plan; once `stop` is set no further step starts."""
    check_fresh(prepared, request)
    check_before_apply(prepared, request)
    ctx = ApplyContext(connection.api, prepared.live.org_id, prepared.live.ids())
    options = ExecuteOptions(
        parallelism=request.parallelism,
        sink=prepared.sink,
        fingerprints=prepared.fingerprints,
        on_step=on_step,
        stop=stop,
    )
    try:
        return execute(prepared.plan, prepared.desired, prepared.live, ctx, options)
    finally:
        prepared.fingerprints.save()
