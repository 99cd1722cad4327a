"""Workspace members, `/workspace/{id}/users` (`member.EMAIL`): who may use the workspace,
with which role (`READ`, `WRITE` or `ADMIN`; flashback-api.md section 3).

A member is named by the user's email, in lower case, as the workspace lists it, or by any
name with the user's id (`match: {id: USER_ID}`, adopted by id like a provider key); a
create finds the user in the organization's users (`GET /organization/users`), so only
people already in the organization can be added. The role changes in place. Your own membership
is never pruned (removing it would lock fbplan out of the workspace), and is not listed as
unmanaged when the spec does not declare it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fbplan.errors import StepFailed
from fbplan.kinds.base import UNNAMED, ApplyContext, Created, Kind, LiveContext
from fbplan.model import WORKSPACE_ADDRESS, Resource

ORG_USERS = "/organization/users"
PROFILE = "/user/profile"


class WorkspaceMemberKind(Kind):
    name = "workspace_member"
    segment = "member"
    section = "members"
    label = "workspace member"
    read_on_demand = True  # most specs leave membership to the console
    adopt_by_id = True  # `match: {id: USER_ID}`: a member named other than by email

    def desired(self, spec: Mapping[str, Any]) -> Iterable[Resource]:
        for _, key, body in self.spec_entries(spec):
            user_id = (body.get("match") or {}).get("id")
            yield Resource(
                self.name,
                self.address(key),
                key,
                attrs={"role": str(body["role"]).upper()},
                refs=(WORKSPACE_ADDRESS,),
                protect=bool(body.get("protect", False)),
                extra={"user_id": str(user_id)} if user_id else {},
            )

    def reads(self, ctx: LiveContext) -> list[tuple[str, Mapping[str, str] | None]]:
        return [(PROFILE, None)] if ctx.workspace_id else []

    def live(self, ctx: LiveContext) -> Iterable[Resource]:
        if not ctx.workspace_id:
            return
        me = (ctx.fetch(PROFILE).get("data") or {}).get("id")
        for workspace in ctx.fetch("/workspace").get("workspaces", []):
            if workspace["id"] != ctx.workspace_id:
                continue
            for member in workspace.get("users") or []:
                email = str((member.get("user") or {}).get("email") or "").lower()
                # Named by email, unless an entry `match:`es its id (not export's made-up keys:
                # an email is the key members are exported under).
                by_id = ctx.keys.get((self.name, f"{UNNAMED}{member['userId']}"))
                name = by_id or email or f"{UNNAMED}{member['userId']}"
                yield Resource(
                    self.name,
                    self.address(name),
                    name,
                    attrs={"role": str(member.get("role") or "").upper()},
                    refs=(WORKSPACE_ADDRESS,),
                    id=member["userId"],
                    extra={"you": member["userId"] == me},
                )

    def prunable(self, live: Resource) -> bool:
        return not live.extra.get("you")

    def belongs(self, live: Resource, desired: Resource | None) -> bool:
        """Your own membership is the spec's business only if the spec declares it: else it
        would show as unmanaged (and drift) in every workspace that declares members."""
        return desired is not None or not live.extra.get("you")

    def create(self, ctx: ApplyContext, desired: Resource) -> Created:
        users = ctx.api.get(ORG_USERS).get("data") or []
        user_id = desired.extra.get("user_id")
        if user_id:
            found = [u["id"] for u in users if str(u.get("id")) == user_id]
            missing = f"no user of the organization has the id {user_id}"
        else:
            found = [u["id"] for u in users if str(u.get("email") or "").lower() == desired.name]
            missing = f"no user of the organization has the email {desired.name}"
        if not found:
            raise StepFailed(f"{desired.address}: {missing}; invite them to the organization first")
        workspace_id = ctx.id_of(WORKSPACE_ADDRESS)
        role = desired.attrs["role"]
        ctx.api.post(f"/workspace/{workspace_id}/users", json={"userId": found[0], "role": role})
        return Created(found[0])

    def update(self, ctx: ApplyContext, desired: Resource, live: Resource) -> None:
        workspace_id = ctx.id_of(WORKSPACE_ADDRESS)
        body = {"role": desired.attrs["role"]}
        ctx.api.put(f"/workspace/{workspace_id}/users/{live.id}", json=body)

    def delete(self, ctx: ApplyContext, live: Resource) -> None:
        ctx.api.delete(f"/workspace/{ctx.id_of(WORKSPACE_ADDRESS)}/users/{live.id}")
