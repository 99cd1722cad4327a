"""Subscription, credit balance and rates (flashback-api.md section 15): what the emulator
answers, how the admin API and the CLI flags set it, and that a reset restores it."""

from __future__ import annotations

import pytest

from fbplan.cli.emulator import credit_settings, quota_limits
from fbplan.emulator.store_credits import DEFAULT_CREDITS
from fbplan.errors import ConfigError

GB = 1024**3


def test_a_new_organization_has_the_default_balance(api):
    data = api.ok(api.http.get("/credits/balance"))["data"]
    assert data == {
        "creditBalance": DEFAULT_CREDITS,
        "dateBalance": None,
        "realtimeBalance": DEFAULT_CREDITS,
        "pendingConsumption": 0.0,
        "breakdown": {"storage": 0.0, "ai": 0.0},
    }


def test_egress_and_tokens_consume_credits_at_the_advertised_rates(api, anonymous):
    rates = {r["conceptCode"]: r["rate"] for r in api.ok(anonymous.get("/credits/rates"))["data"]}
    api.ok(api.http.post("/_emulator/traffic", json={"downloadBytes": 2 * GB}))
    api.ok(api.http.post("/_emulator/ai-usage", json={"tokensIn": 600_000, "tokensOut": 400_000}))
    data = api.ok(api.http.get("/credits/balance"))["data"]
    assert data["breakdown"] == {
        "storage": 2 * rates["PER_GB_EGRESS"],
        "ai": rates["PER_1M_TOKENS"],
    }
    spent = 2 * rates["PER_GB_EGRESS"] + rates["PER_1M_TOKENS"]
    assert data["pendingConsumption"] == pytest.approx(spent)
    assert data["realtimeBalance"] == pytest.approx(DEFAULT_CREDITS - spent)


def test_rates_need_no_token_but_the_balance_does(anonymous):
    assert anonymous.get("/credits/rates").status_code == 200
    assert anonymous.get("/credits/balance").status_code == 401


def test_credits_not_enabled_answer_400_with_the_credits_error_shape(api):
    api.ok(api.http.put("/_emulator/credits", json={"credits": None}))
    refused = api.fail(api.http.get("/credits/balance"), 400)
    assert refused["error_code"] == "CREDITS_NOT_ENABLED" and refused["message"]


def test_a_zero_or_negative_balance_is_reported_and_refuses_no_create(api):
    api.ok(api.http.put("/_emulator/credits", json={"credits": -5}))
    assert api.ok(api.http.get("/credits/balance"))["data"]["realtimeBalance"] == -5
    api.bucket(api.workspace())  # section 15 documents no refusal of a create for credits


def test_without_a_subscription_the_quota_answers_404_and_quotas_still_apply(api):
    api.ok(api.http.put("/_emulator/quotas", json={"buckets": 0}))
    api.ok(api.http.put("/_emulator/credits", json={"subscription": False}))
    refused = api.fail(api.http.get("/user/quota"), 404)
    assert refused["error_code"] == "NO_ACTIVE_SUBSCRIPTION"
    workspace = api.workspace()
    assert api.fail(api.http.post("/bucket", json=_bucket(workspace)), 429)["error_code"] == (
        "QUOTA_EXCEEDED"
    )


@pytest.mark.parametrize(
    "body",
    [{"credits": "lots"}, {"credits": True}, {"subscription": "no"}, {"balance": 3}],
)
def test_the_admin_api_refuses_a_wrong_setting(api, body):
    assert api.fail(api.http.put("/_emulator/credits", json=body), 400)["message"]


def test_a_reset_restores_the_start_up_settings(api):
    api.ok(api.http.put("/_emulator/credits", json={"subscription": False, "credits": 0}))
    api.ok(api.http.post("/_emulator/reset"))
    settings = api.ok(api.http.get("/_emulator/credits"))
    assert (settings["subscription"], settings["credits"]) == (True, DEFAULT_CREDITS)


def test_cli_flags_become_settings():
    assert quota_limits(("buckets=10", "repos=none")) == {"buckets": 10, "repos": None}
    assert credit_settings("0", no_subscription=True) == {"subscription": False, "credits": 0.0}
    assert credit_settings("off", no_subscription=False) == {"credits": None}
    assert credit_settings(None, no_subscription=False) == {}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("bucket=3",), "--quota bucket=3: unknown quota 'bucket'; expected one of workspaces"),
        (("buckets=-1",), "--quota buckets=-1: the limit must be a non-negative integer or none"),
        (("buckets",), "--quota buckets: the limit must be a non-negative integer or none"),
    ],
)
def test_a_wrong_quota_flag_is_one_clear_sentence(flags, message):
    with pytest.raises(ConfigError) as caught:
        quota_limits(flags)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("amount", ["many", "nan", "inf", "1e20"])
def test_a_wrong_credits_flag_is_one_clear_sentence(amount):
    with pytest.raises(ConfigError, match=f"--credits {amount}: give a number"):
        credit_settings(amount, no_subscription=False)


def _bucket(workspace_id: str) -> dict[str, object]:
    return {
        "name": "over-quota",
        "bucket": "over-quota-bucket",
        "storageType": "S3",
        "workspaceId": workspace_id,
        "key": "AKIA",
        "secret": "s",
        "region": "us-east-1",
    }
