"""Run a spec's smoke checks: `run_smoke(spec, connection) -> SmokeReport`.

    spec.smoke ─► check key kinds (never mixed) ─► read live ─► credentials per target
               ─► for each target: endpoint (explicit, or chosen for `auto`; the AI gateway
                                   the backend advertises unless one is given)
                                   ─► attempts through its routes
                                      (soft limits: next route, or bounded waits)

Only the workspace, its buckets, its repos and their keys are read live.

`Pins` carry the values the spec's `outputs` gave an application (a repo's Bridge Node
endpoint, AI base URL, model): a target with `endpoint: auto`, no `base_url` or no `model`
uses them, so a passing check proves the application's configuration works. Outputs find
their endpoints with `endpoint_context`, `bridge_endpoint` and `ai_base_url`, as the checks do.

Every problem that makes the checks meaningless (a storage key named for AI, an AI key
that looks like a storage key pair) raises `ConfigError` before any smoke call. A target
that cannot run or fails is reported with its steps; nothing here prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fbplan import extras
from fbplan.backend.live import read_live
from fbplan.errors import ConfigError
from fbplan.kinds import KINDS, renamed_keys
from fbplan.model import State
from fbplan.secrets.sinks import SecretSink, sink_from_spec
from fbplan.smoke import Attempt, SmokeReport, SmokeStep, TargetResult
from fbplan.smoke import ai as ai_check
from fbplan.smoke import storage as storage_check
from fbplan.smoke.credentials import (
    AiCredentials,
    CredentialIssue,
    StorageCredentials,
    ai_address,
    ai_credentials,
    check_key_kind,
    storage_address,
    storage_credentials,
)
from fbplan.smoke.endpoints import (
    API_OF_STORAGE_TYPE,
    DEFAULT_PROVIDER,
    DEFAULT_REGION,
    Choice,
    Node,
    SmokeConnection,
    Telemetry,
    candidates_for,
    choose_endpoint,
    choose_gateway,
    fetch_gateways,
    fetch_telemetry,
    gateway_pattern,
    normalize_url,
    pattern_candidates,
    placements,
)
from fbplan.spec import Spec

StepCallback = Callable[[TargetResult, SmokeStep], None]
LIVE_KINDS = tuple(kind for kind in KINDS if kind.data_plane)
MAX_WAIT_SECONDS = 30.0
FIRST_WAIT_SECONDS, LONGEST_WAIT_SECONDS = 1.0, 10.0


@dataclass(frozen=True)
class Route:
    """One way to run a target: a storage route, or the AI gateway."""

    endpoint: str
    describe: str
    run: Callable[[], Attempt]


@dataclass(frozen=True)
class Pins:
    """Per repo: (value, where it came from), e.g. `("http://...", "outputs FB_S3_ENDPOINT")`."""

    endpoints: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    base_urls: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    models: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class _Run:
    """What every target of one run shares."""

    spec: Spec
    connection: SmokeConnection
    live: State
    sink: SecretSink | None
    env: Mapping[str, str]
    on_step: StepCallback | None
    s3_client_factory: storage_check.S3ClientFactory
    openai_factory: ai_check.OpenAIFactory
    sleep: Callable[[float], None]
    max_wait: float
    previous: dict[frozenset[str], str] = field(default_factory=dict)  # `auto` choices
    telemetry: Telemetry | None = None
    gateways: tuple[Choice, str] | None = None  # the advertised AI gateway, and a note
    pins: Pins = field(default_factory=Pins)

    def emit(self, target: TargetResult, step: SmokeStep) -> None:
        target.steps.append(step)
        if self.on_step is not None:
            self.on_step(target, step)


def require_packages(spec: Spec) -> None:
    """Before any request: a spec with `smoke.ai` targets needs the openai package (the
    `ai` extra); ConfigError at the spec's file:line:column if it is not installed."""
    if (spec.data.get("smoke") or {}).get("ai"):
        extras.require(extras.AI, f"{spec.location(('smoke', 'ai'))}: smoke.ai")


def run_smoke(
    spec: Spec,
    connection: SmokeConnection,
    *,
    env: Mapping[str, str] = os.environ,
    on_step: StepCallback | None = None,
    s3_client_factory: storage_check.S3ClientFactory | None = None,
    openai_factory: ai_check.OpenAIFactory | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_wait_seconds: float = MAX_WAIT_SECONDS,
    pins: Pins | None = None,
) -> SmokeReport:
    """Run every `smoke.storage` and `smoke.ai` target of `spec` against `connection`."""
    smoke = spec.data.get("smoke") or {}
    storage, ai = list(smoke.get("storage") or []), list(smoke.get("ai") or [])
    if not storage and not ai:
        return SmokeReport()
    for section, checks in (("storage", storage), ("ai", ai)):
        for index in range(len(checks)):
            check_key_kind(spec.data, section, index)
    run = _Run(
        spec,
        connection,
        read_live(connection.api, spec.workspace_name, LIVE_KINDS, keys=renamed_keys(spec.data)),
        sink_from_spec((spec.data.get("secrets") or {}).get("sink"), spec.root),
        env,
        on_step,
        s3_client_factory or storage_check.default_s3_client,
        openai_factory or ai_check.default_openai_client,
        sleep,
        max_wait_seconds,
        pins=pins or Pins(),
    )
    storage_targets = [_StorageTarget.prepare(run, check) for check in storage]
    ai_targets = [_AiTarget.prepare(run, check, storage_targets) for check in ai]
    targets: list[_StorageTarget | _AiTarget] = [*storage_targets, *ai_targets]
    return SmokeReport([t.execute(run) for t in targets])


# -- storage --------------------------------------------------------------------------------


@dataclass
class _StorageTarget:
    repo: str
    key_name: str
    endpoint: str | None
    credentials: StorageCredentials | CredentialIssue
    access: str | None

    @classmethod
    def prepare(cls, run: _Run, check: Mapping[str, Any]) -> _StorageTarget:
        repo, key = str(check["repo"]), str(check["api_key"])
        address = storage_address(repo, key)
        live_key = run.live.get(address)
        owners = {
            str(r.extra.get("key_id")): r.address
            for r in run.live.of_kind("repo_api_key")
            if r.extra.get("key_id")
        }
        credentials = storage_credentials(
            address,
            run.sink,
            run.env,
            live_key_id=(live_key.extra.get("key_id") if live_key else None),
            key_owners=owners,
        )
        access = (live_key.attrs.get("access") if live_key else None) or _spec_access(
            run.spec.data, repo, key
        )
        return cls(repo, key, check.get("endpoint"), credentials, access)

    @property
    def address(self) -> str:
        return storage_address(self.repo, self.key_name)

    def secret_values(self) -> list[str]:
        if isinstance(self.credentials, StorageCredentials):
            return [self.credentials.key_id, self.credentials.secret.reveal()]
        return []

    def execute(self, run: _Run) -> TargetResult:
        result = TargetResult("storage", self.repo, self.key_name, self.address)
        credentials = self.credentials
        if not _credentials_step(run, result, credentials, self.address):
            return result
        assert isinstance(credentials, StorageCredentials)
        routes = self._routes(run, result)
        if not routes:
            return result
        key = storage_check.KeyFacts(
            self.key_name, self.address, credentials.key_id, self.access, credentials.source
        )
        secret = credentials.secret.reveal()
        clients: dict[str, Any] = {}  # one client per endpoint, kept across waits

        def route_for(r: storage_check.StorageRoute) -> Route:
            def go() -> Attempt:
                if r.endpoint not in clients:
                    clients[r.endpoint] = run.s3_client_factory(
                        r.endpoint, credentials.key_id, secret
                    )
                return storage_check.attempt(
                    clients[r.endpoint], self.repo, r, key, lambda step: run.emit(result, step)
                )

            return Route(r.endpoint, r.describe(), go)

        try:
            _drive(run, result, [route_for(r) for r in routes])
        finally:
            for client in clients.values():
                _close(client)
        return result

    def _routes(self, run: _Run, result: TargetResult) -> list[storage_check.StorageRoute]:
        started = time.perf_counter()
        repo = (run.spec.data.get("repos") or {}).get(self.repo) or {}
        explicit, source = _explicit_endpoint(
            self.endpoint, run.env, run.pins.endpoints.get(self.repo)
        )
        explicit, note = _local_only(run, explicit, source, "")
        if explicit is not None:
            choice = Choice(explicit, f"explicit endpoint from {source}")
        else:
            choice, note = _auto_choice(run, repo, note)
        reason = choice.reason + (f"; {note}" if note else "")
        seconds = round(time.perf_counter() - started, 4)
        if choice.url is None:
            fix = "set endpoint in smoke.storage or FB_S3_ENDPOINT to a Bridge Node URL"
            run.emit(result, SmokeStep("endpoint", False, seconds, None, reason, fix))
            result.outcome = "failed"
            return []
        run.emit(result, SmokeStep("endpoint", True, seconds, choice.url, reason))
        routes = [storage_check.StorageRoute(url) for url in choice.ranked]
        return routes + _bucket_routes(choice.url, repo)


def _auto_choice(run: _Run, repo: Mapping[str, Any], note: str) -> tuple[Choice, str]:
    """The lowest-latency node; a previous choice among the same nodes in this run
    stays unless another is more than 20% faster."""
    api = API_OF_STORAGE_TYPE.get(str(repo.get("storage_type") or "S3").upper(), "s3")
    nodes = _nodes_for(run, api, repo)
    telemetry = run.telemetry.note if run.telemetry else ""
    note = "; ".join(n for n in (telemetry, note) if n)
    memory = frozenset(n.url for n in nodes)
    choice = choose_endpoint(nodes, run.previous.get(memory), "the previous choice")
    if choice.url is not None:
        run.previous[memory] = choice.url
    return choice, note


def _spec_access(data: Mapping[str, Any], repo: str, key: str) -> str | None:
    body = (((data.get("repos") or {}).get(repo) or {}).get("api_keys") or {}).get(key) or {}
    access = body.get("access")
    return str(access).upper() if access else None


def _explicit_endpoint(
    endpoint: str | None, env: Mapping[str, str], pinned: tuple[str, str] | None = None
) -> tuple[str | None, str]:
    """The URL set in the spec (other than `auto`), else by an output, else in
    FB_S3_ENDPOINT, and where from."""
    if endpoint and endpoint.strip().lower() != "auto":
        return endpoint.strip(), "the spec"
    if pinned is not None:
        return pinned
    from_env = env.get("FB_S3_ENDPOINT", "").strip()
    if from_env:
        return from_env, "FB_S3_ENDPOINT"
    return None, ""


def _emulator_urls(run: _Run) -> set[str] | None:
    """The embedded emulator's own URLs (None when the connection has no emulator)."""
    local = run.connection.local
    return None if local is None else local.own()


def _local_only(run: _Run, url: str | None, source: str, note: str) -> tuple[str | None, str]:
    """On an embedded emulator, an endpoint that is not the emulator's own is ignored: a
    spec written for the real platform runs `--local` without leaving the machine."""
    own = _emulator_urls(run)
    if url is None or own is None or normalize_url(url) in own:
        return url, note
    ignored = f"{url} from {source} ignored: --local uses the embedded emulator"
    return None, f"{note}; {ignored}" if note else ignored


def _bucket_routes(endpoint: str, repo: Mapping[str, Any]) -> list[storage_check.StorageRoute]:
    """In a NORMAL repo with several buckets, each bucket's folder is another way in."""
    attached = [b for b in repo.get("buckets") or [] if b.get("folder")]
    if str(repo.get("mode") or "").upper() != "NORMAL" or len(attached) < 2:
        return []
    return [
        storage_check.StorageRoute(
            endpoint, f"{b['folder'].strip('/')}/", f"bucket {b['bucket']}, folder {b['folder']}"
        )
        for b in attached
    ]


def _repo_bucket_ids(live: State, repo: Mapping[str, Any]) -> set[str]:
    ids = set()
    for item in repo.get("buckets") or []:
        bucket = live.get(f"bucket.{item.get('bucket')}")
        if bucket is not None and bucket.id:
            ids.add(bucket.id)
    return ids


def _nodes_for(run: _Run, api: str, repo: Mapping[str, Any]) -> list[Node]:
    if run.telemetry is None:
        ids = sorted(b.id for b in run.live.of_kind("bucket") if b.id)
        run.telemetry = fetch_telemetry(run.connection.api, ids)
    advertised = run.telemetry.nodes(_repo_bucket_ids(run.live, repo))
    patterns = pattern_candidates(repo.get("storage_type"), placements(run.spec.data, repo))
    local = run.connection.local
    extra = list(local.bridge_urls) if local is not None else []
    own = _emulator_urls(run)
    if own is not None:
        patterns = []  # an embedded emulator never sends smoke traffic to the internet
        # Another --local run in this folder shares the store and may advertise its nodes,
        # which stop when that run ends: use only this run's.
        advertised = [node for node in advertised if normalize_url(node.url) in own]
    return candidates_for(api, patterns, advertised, extra)


# -- AI -------------------------------------------------------------------------------------


@dataclass
class _AiTarget:
    call: ai_check.ChatCall
    repo: str
    key_name: str
    credentials: AiCredentials | CredentialIssue
    base_url_reason: str

    @classmethod
    def prepare(
        cls, run: _Run, check: Mapping[str, Any], storage: Sequence[_StorageTarget]
    ) -> _AiTarget:
        repo, key = str(check["repo"]), str(check["ai_api_key"])
        address = ai_address(repo, key)
        known = _storage_values(run, storage)
        credentials = ai_credentials(address, run.sink, run.env, storage_values=known)
        base_url, reason = _base_url(run, check)
        pinned_model = run.pins.models.get(repo, ("", ""))[0]
        model = str(check.get("model") or pinned_model or run.env.get("FB_MODEL", "")).strip()
        prompt = str(check.get("prompt") or ai_check.DEFAULT_PROMPT)
        source = getattr(credentials, "source", "")
        call = ai_check.ChatCall(
            repo, key, address, base_url, model, prompt, _ai_timeout(run.env), source
        )
        return cls(call, repo, key, credentials, reason)

    def execute(self, run: _Run) -> TargetResult:
        call = self.call
        result = TargetResult("ai", self.repo, self.key_name, call.address)
        if not _credentials_step(run, result, self.credentials, call.address):
            return result
        assert isinstance(self.credentials, AiCredentials)
        run.emit(result, SmokeStep("endpoint", True, 0.0, call.base_url, self.base_url_reason))
        if not call.model:  # fails here, before any call to the gateway
            message = "no model: set smoke.ai[].model or FB_MODEL"
            run.emit(result, SmokeStep("chat", False, 0.0, None, message))
            result.outcome = "failed"
            return result
        token = self.credentials.token.reveal()

        def go() -> Attempt:
            client = run.openai_factory(call.base_url, token, call.timeout)
            try:
                return ai_check.attempt(client, call, lambda step: run.emit(result, step))
            finally:
                _close(client)

        _drive(run, result, [Route(call.base_url, call.base_url, go)])
        return result


def _storage_values(run: _Run, storage: Sequence[_StorageTarget]) -> list[str]:
    values = [v for target in storage for v in target.secret_values()]
    values += [str(r.extra.get("key_id")) for r in run.live.of_kind("repo_api_key")]
    values += [run.env.get("FB_KEY_ID", ""), run.env.get("FB_KEY_SECRET", "")]
    return [v for v in values if v and v != "None"]


def _base_url(run: _Run, check: Mapping[str, Any]) -> tuple[str, str]:
    """The gateway URL and where it came from: the spec's, FB_OPENAI_BASE_URL, the embedded
    emulator's gateway, the AI gateway the backend advertises, else the gateway pattern for
    the repo's first bucket region."""
    url, source = _given_base_url(run, check)
    url, note = _local_only(run, url, source, "")
    if url is not None:
        return url, f"base URL from {source}"
    local = run.connection.local
    if local is not None:
        reason = "the embedded emulator's AI gateway" + (f" ({note})" if note else "")
        return local.gateway_url, reason
    if run.gateways is None:
        nodes, notes = fetch_gateways(run.connection.api)
        run.gateways = choose_gateway(nodes), "; ".join(notes)
    choice, note = run.gateways
    if choice.url is not None:
        reason = f"base URL from the AI gateway the backend advertises ({_NODE_LIST}): "
        return choice.url, reason + choice.reason + (f"; {note}" if note else "")
    repo = (run.spec.data.get("repos") or {}).get(check.get("repo")) or {}
    region, provider = (placements(run.spec.data, repo) or [(DEFAULT_REGION, DEFAULT_PROVIDER)])[0]
    why = note or f"{choice.reason} ({_NODE_LIST})"
    return gateway_pattern(region, provider), (
        f"base URL from the gateway pattern: {why} (set base_url or FB_OPENAI_BASE_URL to choose)"
    )


_NODE_LIST = "GET /node?nodeServices=2"


def _given_base_url(run: _Run, check: Mapping[str, Any]) -> tuple[str | None, str]:
    if check.get("base_url"):
        return str(check["base_url"]).strip(), "the spec"
    pinned = run.pins.base_urls.get(str(check.get("repo")))
    if pinned is not None:
        return pinned
    from_env = run.env.get("FB_OPENAI_BASE_URL", "").strip()
    return (from_env, "FB_OPENAI_BASE_URL") if from_env else (None, "")


def _ai_timeout(env: Mapping[str, str]) -> float:
    text = env.get("FB_AI_TIMEOUT_MS", "").strip()
    if not text:
        return ai_check.DEFAULT_TIMEOUT_SECONDS
    try:
        millis = float(text)
    except ValueError:
        raise ConfigError(
            f"FB_AI_TIMEOUT_MS must be a number of milliseconds, got {text!r}"
        ) from None
    if millis <= 0:
        raise ConfigError("FB_AI_TIMEOUT_MS must be more than 0")
    return millis / 1000.0


# -- for outputs ----------------------------------------------------------------------------


def endpoint_context(spec: Spec, connection: Any, live: State) -> _Run:
    """What `bridge_endpoint` and `ai_base_url` need. No environment variable is read: an
    output depends on the spec and the live workspace only."""
    return _Run(
        spec,
        connection,
        live,
        None,
        {},
        None,
        storage_check.default_s3_client,
        ai_check.default_openai_client,
        time.sleep,
        MAX_WAIT_SECONDS,
    )


def bridge_endpoint(run: _Run, repo_name: str) -> Choice:
    """The Bridge Node a storage check of `repo_name` with `endpoint: auto` would choose."""
    repo = (run.spec.data.get("repos") or {}).get(repo_name) or {}
    choice, note = _auto_choice(run, repo, "")
    return Choice(choice.url, choice.reason + (f"; {note}" if note else ""), choice.fallbacks)


def ai_base_url(run: _Run, repo_name: str) -> tuple[str, str]:
    """The AI gateway base URL an AI check of `repo_name` without `base_url` would use, and
    where it came from."""
    return _base_url(run, {"repo": repo_name})


# -- shared ---------------------------------------------------------------------------------


def _close(client: Any) -> None:
    """Release a client's connections (boto3 and openai clients both have `close`)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


def _credentials_step(
    run: _Run,
    result: TargetResult,
    credentials: StorageCredentials | AiCredentials | CredentialIssue,
    address: str,
) -> bool:
    if run.live.get(f"repo.{result.repo}") is None:
        message = f"repo {result.repo} does not exist in workspace {run.spec.workspace_name}"
        fix = "apply the spec first (fbplan apply)"
        run.emit(result, SmokeStep("credentials", False, 0.0, None, message, fix))
        result.outcome = "failed"
        return False
    if isinstance(credentials, CredentialIssue):
        step = SmokeStep("credentials", False, 0.0, None, credentials.message, credentials.fix)
        run.emit(result, step)
        result.outcome = "failed"
        return False
    if isinstance(credentials, StorageCredentials):
        text = f"{address} (key {credentials.key_id}) from {credentials.source}"
    else:
        text = f"the AI key {address} from {credentials.source}"
    run.emit(result, SmokeStep("credentials", True, 0.0, None, text))
    return True


def _drive(run: _Run, result: TargetResult, routes: Sequence[Route]) -> None:
    def emit(step: SmokeStep) -> None:
        run.emit(result, step)

    drive(result, routes, emit=emit, sleep=run.sleep, max_wait=run.max_wait)


def _waits() -> Iterator[float]:
    delay = FIRST_WAIT_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, LONGEST_WAIT_SECONDS)


def drive(
    result: TargetResult,
    routes: Sequence[Route],
    *,
    emit: Callable[[SmokeStep], None],
    sleep: Callable[[float], None],
    max_wait: float,
) -> None:
    """Try the routes in order until one passes or fails hard; on a soft limit with no
    route left, wait (Retry-After, else 1, 2, 4... s) and try again, at most `max_wait`
    seconds in all, then report the target as blocked."""
    index, waits = 0, _waits()
    while True:
        failure = routes[index].run().failure
        if failure is None or failure.kind == "hard":
            result.outcome = "passed" if failure is None else "failed"
            return
        if index + 1 < len(routes):
            index += 1
            message = f"trying {routes[index].describe} after a {failure.kind} failure"
            emit(SmokeStep("switch", True, 0.0, routes[index].endpoint, message))
            continue
        if failure.kind == "unreachable":
            result.outcome = "failed"
            return
        delay = failure.retry_after if failure.retry_after is not None else next(waits)
        if result.waited_seconds + delay > max_wait:
            result.outcome = "blocked"
            return
        sleep(delay)
        result.waited_seconds += delay
        message = f"waited {delay:.1f} s after a soft limit (quota or rate limit)"
        emit(SmokeStep("wait", True, round(delay, 3), routes[index].endpoint, message))
