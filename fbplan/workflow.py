"""The stages wired together: connect, load, read live, plan, check, apply.

Commands in `fbplan/cli/` are thin shells over these functions; nothing here prints.
Progress goes through callbacks. The plan is computed by the planner (`fbplan.plan`) from
the inputs gathered here; its safety rules live in `fbplan.plan.safety`.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fbplan.apply.executor import ApplyReport, ExecuteOptions, execute
from fbplan.apply.lock import LockWait, workspace_lock
from fbplan.backend.client import BackendClient, ClientEvent, request_limits
from fbplan.backend.conflicts import OrgNames
from fbplan.backend.live import read_live, read_org_id
from fbplan.backend.quota import reading_quota
from fbplan.errors import ConfigError, SafetyError
from fbplan.kinds import KINDS, REGISTRY, renamed_keys
from fbplan.kinds.base import DEFAULT_PARALLELISM, ApplyContext
from fbplan.model import State
from fbplan.outputs.targets import check_writable as check_targets_writable
from fbplan.plan.ignore import set_aside
from fbplan.plan.inputs import PlanInputs, PlanRequest, SinkFacts
from fbplan.plan.model import Ignored, Plan
from fbplan.plan.planner import destroy_plan, make_plan
from fbplan.plan.quota import QuotaFacts
from fbplan.plan.safety import delete_blocker, new_keys
from fbplan.plan.scope import targeted
from fbplan.secrets.fingerprints import FILE_NAME, FingerprintStore
from fbplan.secrets.sinks import (
    Owner,
    SecretSink,
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


@dataclass(frozen=True)
class Prepared:
    """Everything a plan was made from, and the plan."""

    spec: Spec
    desired: State
    live: State
    plan: Plan
    fingerprints: FingerprintStore
    sink: SecretSink | None


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
    """Load, read live, gather the plan's inputs and plan. `drift` reports only: it skips
    the checks that matter to an apply (the secret sink, organization-wide name
    conflicts, quota), saving their requests. `quota`: the organization's quota and
    credits if already read (else read beside the workspace)."""
    spec, desired = loaded or load(request)
    apply_checks = not (destroy or drift)
    fingerprint_path = connection.fingerprint_path or spec.root / FILE_NAME
    with (
        reading_quota(connection.api, enabled=apply_checks and quota is None) as read_quota,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="fbplan-fingerprints") as pool,
    ):
        # The diff checks fingerprints one by one: hash them (in parallel, off the GIL)
        # while the live read waits for its answers. Only recorded ones are hashed.
        warmed = pool.submit(_warm_fingerprints, fingerprint_path, desired, warm=not destroy)
        live = read_live(
            connection.api,
            desired.workspace,
            KINDS if destroy else kinds_to_read(spec.data),  # destroy must see all it would hit
            keep=lambda r: REGISTRY[r.kind].belongs(r, desired.get(r.address)),
            parallelism=connection.parallelism,
            keys=renamed_keys(spec.data),
        )
        quota = quota or read_quota()
        store = warmed.result()
    _check_addresses(request, desired, live)
    ignored: list[Ignored] = []
    if not destroy:  # destroy deletes what the spec declares, ignored fields or not
        desired, live, ignored = set_aside(ignore_rules(spec.data), desired, live)
    owner = Owner(connection.backend, desired.workspace)
    sink = sink_from_spec((spec.data.get("secrets") or {}).get("sink"), spec.root, owner)
    inputs = PlanInputs(
        desired,
        live,
        spec_digest=spec.digest,
        prune=prune_sections(spec.data),
        secret_status=store.status,
        secret_held=holds_secret_of(sink if apply_checks else None),
        sink=_sink_facts(sink, desired) if apply_checks else None,
        names_elsewhere=OrgNames(connection.api, live.workspace_id) if apply_checks else None,
        backend=connection.backend,
        org_id=_org_id(connection, live),
        quota=quota if apply_checks else None,
        ignored=tuple(ignored),
        approved=tuple(approvals(spec.data)),
    )
    plan = destroy_plan(request, inputs) if destroy else make_plan(request, inputs)
    return Prepared(spec, desired, live, plan, store, sink)


def _warm_fingerprints(path: Path, desired: State, *, warm: bool) -> FingerprintStore:
    """The fingerprint store of `path`, with the recorded fingerprints of `desired`'s
    secrets hashed already when `warm` (a resource that is no longer live costs a hash for
    nothing; one the spec does not declare, none)."""
    store = FingerprintStore(path, desired.workspace)
    if warm:
        store.warm((r.address, name, value) for r in desired for name, value in r.secrets.items())
    return store


def _sink_facts(sink: SecretSink | None, desired: State) -> SinkFacts:
    """A local sink is read now for the entries of the keys the spec declares; a remote one
    is asked at apply, only for the keys the plan creates (`check_before_apply`)."""
    if sink is None or not sink.local:
        return SinkFacts(configured=sink is not None)
    keys = [r.address for r in desired if REGISTRY[r.kind].issues_credentials]
    return SinkFacts(configured=True, foreign=foreign_entries(sink, keys))


def _org_id(connection: Connection, live: State) -> str:
    """The organization of the token: known from the live read when the workspace exists
    (or policies were read), else asked for (a plan that creates the workspace)."""
    workspace = live.get("workspace")
    known = live.org_id or (workspace.extra.get("org_id") if workspace else None)
    return str(known or read_org_id(connection.api) or "")


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
    for option, given in (("--target", request.targets), ("--exclude", request.excludes)):
        for address in given:
            if not any(targeted(a, [address]) for a in known):
                raise ConfigError(
                    f"{option} {address}: no such resource in the spec or the workspace"
                )


def lock_workspace(
    workspace: str,
    command: str,
    break_lock: bool,
    timeout: float,
    on_note: Callable[[str], None],
) -> AbstractContextManager[object]:
    """The workspace lock, waiting up to `timeout` for a live holder; a dead holder's lock
    is taken over with a note."""
    return workspace_lock(
        workspace, command, break_lock=break_lock, wait=LockWait(timeout), on_note=on_note
    )


@dataclass(frozen=True)
class ApplyRequest:
    """What apply adds to the plan's request (`PlanRequest.saved`: a reviewed plan)."""

    allow_delete: bool = False
    parallelism: int = DEFAULT_PARALLELISM


def check_before_apply(prepared: Prepared, request: ApplyRequest) -> None:
    """Every rule that must hold before the first change; raises, changes nothing. The
    plan's blockers (safety rules, a stale saved plan) were computed once by the planner;
    what is checked here can only be known at apply (the flags, files to write)."""
    plan = prepared.plan
    for blocker in plan.blockers:
        raise SafetyError(f"blocked ({blocker.rule}): {blocker.message}")
    if not plan.has_changes:
        return
    deletes = delete_blocker(plan, allow_delete=request.allow_delete, approved=plan.approved)
    if deletes:
        raise SafetyError(f"blocked: {deletes.message}")
    check_targets_writable(prepared.spec)
    if prepared.sink is not None and new_keys(plan):
        prepared.sink.check_writable()  # before a key whose secret could not be kept exists
        if not prepared.sink.local:  # a local sink was checked by the plan
            for problem in foreign_entries(prepared.sink, new_keys(plan)).values():
                raise SafetyError(f"blocked (secret-sink): {problem}")


def apply_prepared(
    prepared: Prepared,
    connection: Connection,
    request: ApplyRequest,
    on_step: Callable[..., None] | None = None,
    stop: threading.Event | None = None,
    *,
    checked: bool = False,
) -> ApplyReport:
    """Carry out the plan; once `stop` is set no further step starts. `checked`: the
    caller ran `check_before_apply` already (the CLI does, before asking)."""
    if not checked:
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
