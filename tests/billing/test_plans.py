"""Plans from configuration, the org's effective plan, and the wording of refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from billing import Billing, LimitExceeded, PlanConfigError, load_catalog
from billing.limits import check_bulk, check_enrichment, check_sync_interval, sync_interval_for
from billing.plans import DEFAULT_PLANS_FILE, parse_catalog
from core.settings import ConfigError, Settings
from store.models import Organization
from tests.billing.conftest import TEST_PLANS


def test_the_default_plans_file_is_valid() -> None:
    catalog = load_catalog(None)
    assert [plan.key for plan in catalog.plans] == ["free", "pro", "team"]
    free = catalog.free
    assert (free.calendars, free.min_sync_interval_minutes, free.max_bulk_guests) == (1, 60, 200)
    assert (free.gemini_questions_per_day, free.enrichment) == (50, False)
    assert [plan.key for plan in catalog.upgrades_from(free)] == ["pro", "team"]
    assert catalog.for_price("price_pro_monthly") is catalog.get("pro")
    assert json.loads(DEFAULT_PLANS_FILE.read_text())["free_plan"] == "free"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plans": {}}, "non-empty object"),
        ({"order": ["free", "pro"]}, "every plan exactly once"),
        ({"free_plan": "gold"}, "not one of the plans"),
        ({"plans": {**TEST_PLANS["plans"], "pro": {"max_bulk_guests": -1}}}, "max_bulk_guests"),
        ({"plans": {**TEST_PLANS["plans"], "pro": {"calendars": "3"}}}, "calendars"),
    ],
)
def test_bad_plans_are_refused_with_the_field_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanConfigError, match=message):
        parse_catalog({**TEST_PLANS, **change})


def test_an_unreadable_file_and_an_unknown_default_plan(tmp_path: Path, plans_file: Path) -> None:
    broken = tmp_path / "plans.json"
    broken.write_text("{not json")
    with pytest.raises(PlanConfigError, match="cannot read"):
        load_catalog(broken)
    settings = Settings(_env_file=None, billing_plans_file=plans_file, default_plan="gold")
    with pytest.raises(ConfigError, match="DEFAULT_PLAN 'gold'"):
        Billing.from_settings(settings)


def test_billing_off_gives_every_org_the_default_plan(plans_file: Path) -> None:
    settings = Settings(_env_file=None, billing_plans_file=plans_file, default_plan="pro")
    billing = Billing.from_settings(settings)
    org = Organization(plan="free", sync_interval_minutes=15)
    assert not billing.enabled and billing.plan_of(org).key == "pro"
    on = Billing.from_settings(
        settings.model_copy(update={"stripe_api_key": SecretStr("sk_test_x")})
    )
    assert on.enabled and on.plan_of(org).key == "free"
    assert on.plan_of(Organization(plan="retired")).key == "free"  # a plan no longer offered
    assert sync_interval_for(on, org) == 60 and sync_interval_for(billing, org) == 15


def test_stripe_secrets_are_redacted() -> None:
    settings = Settings(
        _env_file=None,
        stripe_api_key=SecretStr("sk_live_secret"),
        stripe_webhook_secret=SecretStr("whsec_secret"),
    )
    assert {"sk_live_secret", "whsec_secret"} <= set(settings.secret_values())


def test_refusals_name_the_limit_and_the_way_up(billing: Billing) -> None:
    free, team = billing.catalog["free"], billing.catalog["team"]
    check_bulk(billing, free, 5)
    with pytest.raises(LimitExceeded) as refused:
        check_bulk(billing, free, 6)
    assert refused.value.limit == "max_bulk_guests"
    assert str(refused.value) == (
        "Your Free plan allows bulk jobs of up to 5 guests; this one would change 6. Narrow it "
        "(by status, @domain or emails) or run it in parts. The Pro plan allows more: an admin "
        "can upgrade with /upgrade."
    )
    check_bulk(billing, team, 10**6)  # no limit
    with pytest.raises(LimitExceeded, match="every 60 minutes"):
        check_sync_interval(billing, free, 59)
    with pytest.raises(LimitExceeded, match="No plan allows more"):
        check_sync_interval(billing, team, 1)
    with pytest.raises(LimitExceeded, match="does not include enrichment"):
        check_enrichment(billing, free)
    check_enrichment(billing, team)
    assert billing.gemini_limit(free) == 2
    assert billing.gemini_limit(team) == 200  # no plan limit: the operator's GEMINI_DAILY_QUOTA
