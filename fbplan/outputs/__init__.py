"""Outputs: the configuration an application needs, from the live workspace and the sink.

    spec.outputs.values ─► resolve (ids and key ids read live, secrets read from the secret
                           sink, endpoints found as smoke checks find them)
                        ─► Outputs (plain data, secrets as `Secret`)
                              ├─► targets: dotenv, JSON, GitHub Actions, AWS Secrets Manager
                              ├─► render: text | json | dotenv (`fbplan output`)
                              └─► Pins: smoke checks use the same endpoint, base URL and model

A secret comes from the secret sink, never from memory: after apply, the value an
application gets is the one the sink keeps. Every value is resolved before anything is
written, so a value that cannot be known (a key not created yet, a secret the sink lost)
fails the whole write with one sentence per value, and no target is half written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fbplan.backend.live import read_live
from fbplan.errors import ConfigError
from fbplan.kinds import KINDS, renamed_keys
from fbplan.kinds.base import kind_of_address
from fbplan.model import State
from fbplan.secrets.sinks import SecretSink, sink_from_spec
from fbplan.secrets.values import Secret
from fbplan.smoke import runner
from fbplan.spec import Spec
from fbplan.spec.validate_outputs import SOURCES

#: The kinds resolution reads live: ids of what outputs name, and what endpoint choice needs.
_ALWAYS = {kind.name for kind in KINDS if kind.data_plane}


@dataclass(frozen=True)
class OutputValue:
    """One resolved output. `value` is None when it cannot be known; `problem` says why."""

    name: str
    source: str  # the spec's source field: key_id, secret, id, bridge_endpoint, ...
    value: str | Secret | None
    origin: str  # where the value came from, in words (never the value)
    repo: str | None = None
    problem: str = ""

    @property
    def sensitive(self) -> bool:
        return self.source == "secret"

    def plain(self) -> str:
        """The value as text (a secret revealed); only for a target or --show-secrets."""
        if self.value is None:
            raise ValueError(f"output {self.name} has no value")
        return self.value.reveal() if isinstance(self.value, Secret) else self.value


@dataclass(frozen=True)
class Outputs:
    values: tuple[OutputValue, ...]

    def get(self, name: str) -> OutputValue | None:
        return next((v for v in self.values if v.name == name), None)

    def check_known(self, consequence: str = "") -> None:
        """Raise one `ConfigError` naming every value that cannot be known."""
        problems = [f"{v.name}: {v.problem}" for v in self.values if v.value is None]
        if problems:
            tail = f" ({consequence})" if consequence else ""
            raise ConfigError(f"outputs without a value{tail}: " + "; ".join(problems))

    def pins(self) -> runner.Pins:
        """The endpoint, base URL and model each repo's outputs give, for smoke checks."""
        found: dict[str, dict[str, tuple[str, str]]] = {
            "bridge_endpoint": {},
            "ai_base_url": {},
            "model": {},
        }
        for value in self.values:
            if value.repo and value.source in found and isinstance(value.value, str):
                found[value.source].setdefault(value.repo, (value.value, f"outputs {value.name}"))
        return runner.Pins(found["bridge_endpoint"], found["ai_base_url"], found["model"])


def declared(spec: Spec) -> dict[str, dict[str, Any]]:
    """The spec's `outputs.values`, in spec order."""
    return dict(((spec.data.get("outputs") or {}).get("values")) or {})


def resolve(spec: Spec, connection: Any, names: Sequence[str] = ()) -> Outputs:
    """Resolve the spec's outputs (or only `names`) against `connection`'s live workspace."""
    wanted = declared(spec)
    unknown = [n for n in names if n not in wanted]
    if unknown:
        known = ", ".join(wanted) or "none"
        raise ConfigError(f"no output named {', '.join(unknown)} in the spec (outputs: {known})")
    chosen = {n: b for n, b in wanted.items() if not names or n in names}
    live = read_live(
        connection.api, spec.workspace_name, _kinds(chosen.values()), keys=renamed_keys(spec.data)
    )
    sink = sink_from_spec((spec.data.get("secrets") or {}).get("sink"), spec.root)
    resolver = _Resolver(spec, connection, live, sink)
    return Outputs(tuple(resolver.one(name, body) for name, body in chosen.items()))


def smoke_pins(spec: Spec, connection: Any) -> runner.Pins | None:
    """The values smoke checks share with the application (None without outputs)."""
    return resolve(spec, connection).pins() if declared(spec) else None


def _kinds(bodies: Iterable[Mapping[str, Any]]) -> list[Any]:
    wanted = set(_ALWAYS)
    for body in bodies:
        if body.get("id"):
            wanted.add(kind_of_address(str(body["id"])))
    return [kind for kind in KINDS if kind.name in wanted]


class _Resolver:
    def __init__(self, spec: Spec, connection: Any, live: State, sink: SecretSink | None) -> None:
        self.spec = spec
        self.live = live
        self.sink = sink
        self.finder = runner.endpoint_context(spec, connection, live)

    def one(self, name: str, body: Mapping[str, Any]) -> OutputValue:
        source = next(s for s in SOURCES if s in body)
        argument = str(body[source])
        repo = str(body["repo"]) if body.get("repo") else None
        found: tuple[str | Secret | None, str, str]
        match source:
            case "key_id":
                found = self.key_id(argument)
            case "secret":
                found = self.secret(argument)
            case "id":
                found = self.backend_id(argument)
            case "bridge_endpoint" | "ai_base_url":
                found = self.endpoint(source, argument, repo or "")
            case _:
                found = argument, f"the spec's {source}", ""
        value, origin, problem = found
        return OutputValue(name, source, value, origin, repo, problem)

    def _missing(self, address: str) -> tuple[None, str, str]:
        return (
            None,
            "",
            f"{address} does not exist in workspace {self.spec.workspace_name} (run fbplan apply)",
        )

    def key_id(self, address: str) -> tuple[str | None, str, str]:
        have = self.live.get(address)
        if have is None:
            return self._missing(address)
        key_id = have.extra.get("key_id")
        if key_id:
            return str(key_id), f"the key id of {address}", ""
        return None, "", f"the backend gives no key id for {address}"

    def secret(self, address: str) -> tuple[Secret | None, str, str]:
        have = self.live.get(address)
        if have is None:
            return self._missing(address)
        entry = self.sink.read(address) if self.sink is not None else None
        rotate = (
            f"run fbplan apply --rotate {address} --allow-delete to get a key whose secret is kept"
        )
        if not entry or not entry.get("secret"):
            where = self.sink.description if self.sink else "no secret sink"
            return None, "", f"the secret sink ({where}) holds no secret for {address}; {rotate}"
        live_id = have.extra.get("key_id")
        if live_id and entry.get("key") and entry["key"] != live_id:
            return (
                None,
                "",
                f"the secret sink holds another key's secret than the live {address}'s; {rotate}",
            )
        origin = f"the secret of {address} from the secret sink ({self.sink.description})"  # type: ignore[union-attr]
        return Secret(entry["secret"], f"sink:{address}"), origin, ""

    def backend_id(self, address: str) -> tuple[str | None, str, str]:
        have = self.live.get(address)
        if have is None or not have.id:
            return self._missing(address)
        return have.id, f"the id of {address}", ""

    def endpoint(self, source: str, argument: str, repo: str) -> tuple[str | None, str, str]:
        if argument.strip().lower() != "auto":
            return argument.strip(), f"the spec's {source}", ""
        if self.live.get(f"repo.{repo}") is None:
            return self._missing(f"repo.{repo}")
        if source == "ai_base_url":
            url, reason = runner.ai_base_url(self.finder, repo)
            return url, f"the AI gateway for repo {repo}: {reason}", ""
        choice = runner.bridge_endpoint(self.finder, repo)
        if choice.url is None:
            return None, "", f"no Bridge Node for repo {repo}: {choice.reason}"
        return choice.url, f"the Bridge Node for repo {repo}: {choice.reason}", ""
