"""The organization's subscription and credits (flashback-api.md section 15).

Settings, kept in ``meta`` beside the quotas and set through the admin API or CLI flags:

- ``subscription``: whether the organization has an active subscription. Without one,
  ``GET /user/quota`` answers 404 ``NO_ACTIVE_SUBSCRIPTION`` (documented); the quotas set
  still apply to creates (what the real backend allows without a subscription is not
  documented: the strict reading).
- ``credits``: the credit balance granted (a number, zero or negative allowed), or None for
  "credits system not enabled", which ``GET /credits/balance`` answers with 400.

Consumption follows the documented rates (``GET /credits/rates``): egress through a public
Bridge Node per GB and LLM tokens per million, both from the recorded traffic, so
``realtimeBalance`` = ``creditBalance`` - ``pendingConsumption`` moves as smoke checks run.
Nothing is refused for lack of credits: the documentation names no such refusal for any
endpoint (see the contract's choices for ``/credits/balance``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fbplan.emulator.problems import ApiProblem, bad_request
from fbplan.emulator.store_stats import StatsOps

#: Credits an organization starts with: none of the sources gives a figure, so a round one
#: that a few smoke runs do not exhaust.
DEFAULT_CREDITS = 1000.0
#: The rates the emulator charges (``GET /credits/rates``), in credits per unit.
RATES = (
    {
        "id": "rate-public-egress",
        "type": "Public node",
        "typeCode": "PUBLIC_NODE",
        "concept": "Egress per GB",
        "conceptCode": "PER_GB_EGRESS",
        "unit": "GB",
        "rate": 0.05,
    },
    {
        "id": "rate-public-tokens",
        "type": "Public node",
        "typeCode": "PUBLIC_NODE",
        "concept": "LLM tokens per million",
        "conceptCode": "PER_1M_TOKENS",
        "unit": "1M tokens",
        "rate": 0.5,
    },
)
_GB = 1024**3


class CreditOps(StatsOps):
    """Subscription and credit balance."""

    def get_credits_settings(self) -> dict[str, Any]:
        """``{subscription: bool, credits: number | None}``."""
        stored = json.loads(self._meta("credits") or "{}")
        return {
            "subscription": stored.get("subscription", True),
            "credits": stored.get("credits", DEFAULT_CREDITS),
        }

    def set_credits_settings(self, updates: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `updates` into the settings; return them all."""
        settings = self.get_credits_settings()
        for name, value in updates.items():
            if name == "subscription" and isinstance(value, bool):
                settings[name] = value
            elif name == "credits" and _is_amount(value):
                settings[name] = None if value is None else float(value)
            elif name in settings:
                kind = "true or false" if name == "subscription" else "a number or null"
                raise bad_request(f"{name} must be {kind}")
            else:
                raise bad_request(f"Unknown setting {name!r}; expected subscription or credits")
        self._set_meta("credits", json.dumps(settings))
        return settings

    def check_subscription(self) -> None:
        """404 ``NO_ACTIVE_SUBSCRIPTION`` when the organization has none (GET /user/quota)."""
        if not self.get_credits_settings()["subscription"]:
            raise ApiProblem(
                404,
                {
                    "success": False,
                    "error_code": "NO_ACTIVE_SUBSCRIPTION",
                    "message": "The organization has no active subscription",
                },
            )

    def credit_balance(self) -> dict[str, Any]:
        """``data`` of ``GET /credits/balance``."""
        granted = self.get_credits_settings()["credits"]
        if granted is None:
            raise ApiProblem(
                400,
                {
                    "success": False,
                    "error_code": "CREDITS_NOT_ENABLED",
                    "message": "The credits system is not enabled for this organization",
                },
            )
        storage, ai = self._consumption()
        pending = round(storage + ai, 6)
        return {
            "creditBalance": granted,
            "dateBalance": None,
            "realtimeBalance": round(granted - pending, 6),
            "pendingConsumption": pending,
            "breakdown": {"storage": storage, "ai": ai},
        }

    def credit_rates(self) -> list[dict[str, Any]]:
        return [dict(rate) for rate in RATES]

    def _consumption(self) -> tuple[float, float]:
        """Credits used by recorded egress and LLM tokens, at the public-node rates."""
        egress = self._count("SELECT COALESCE(SUM(download), 0) FROM storage_traffic")
        tokens = self._count("SELECT COALESCE(SUM(tokens_in + tokens_out), 0) FROM ai_usage")
        per_gb, per_million = (float(str(rate["rate"])) for rate in RATES)
        return round(egress / _GB * per_gb, 6), round(tokens / 1e6 * per_million, 6)


def _is_amount(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15
