"""Billing fixtures: small test plans, a fake Stripe API over HTTP, billing-on settings.

The control API's and the bot's own fixtures are reused as they are (real PostgreSQL,
Temporal dev server, Luma simulator, local Bot API).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from billing import Billing
from core.settings import Settings
from standins.stripe import FakeStripe, running_fake_stripe
from tests.api import conftest as api_fixtures
from tests.bot import conftest as bot_fixtures

STRIPE_KEY = "sk_test_lumabot_fake_0123456789"
WEBHOOK_SECRET = "whsec_test_lumabot_0123456789abcdef"

# Small limits, so each limit is reached with a handful of guests, chats or questions.
TEST_PLANS: dict[str, Any] = {
    "order": ["free", "pro", "team"],
    "free_plan": "free",
    "plans": {
        "free": {
            "name": "Free",
            "calendars": 1,
            "min_sync_interval_minutes": 60,
            "max_bulk_guests": 5,
            "gemini_questions_per_day": 2,
            "enrichment": False,
            "linked_chats": 1,
            "team_members": 2,
            "stripe_price_id": None,
        },
        "pro": {
            "name": "Pro",
            "calendars": 3,
            "min_sync_interval_minutes": 15,
            "max_bulk_guests": 1000,
            "gemini_questions_per_day": 100,
            "enrichment": True,
            "linked_chats": 5,
            "team_members": 10,
            "stripe_price_id": "price_test_pro",
        },
        "team": {
            "name": "Team",
            "calendars": None,
            "min_sync_interval_minutes": 5,
            "max_bulk_guests": None,
            "gemini_questions_per_day": None,
            "enrichment": True,
            "linked_chats": None,
            "team_members": None,
            "stripe_price_id": "price_test_team",
        },
    },
}

# The control API's fixtures (its app, tenants, simulator, worker) and the bot's World.
api_settings = api_fixtures.api_settings
api_limits = api_fixtures.api_limits
app = api_fixtures.app
tenant = api_fixtures.tenant
other = api_fixtures.other
anonymous = api_fixtures.anonymous
simulator = api_fixtures.simulator
org = api_fixtures.org
pool = api_fixtures.pool
job_defaults = api_fixtures.job_defaults
automations = api_fixtures.automations
services = bot_fixtures.services
bot_keybox = bot_fixtures.bot_keybox
world = bot_fixtures.world
bot_with = bot_fixtures.bot_with


@pytest.fixture(scope="session")
def plans_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("billing") / "plans.json"
    path.write_text(json.dumps(TEST_PLANS))
    return path


@pytest.fixture(scope="session")
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with running_fake_stripe(STRIPE_KEY) as fake:
        yield fake


@pytest.fixture
def billing_settings(plans_file: Path, fake_stripe: FakeStripe, db_url: str) -> Settings:
    """Billing on: Stripe key, webhook secret and API base pointing at the fake."""
    return Settings(
        _env_file=None,
        database_url=db_url,
        stripe_api_key=SecretStr(STRIPE_KEY),
        stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
        stripe_api_base=fake_stripe.url,
        billing_plans_file=plans_file,
        public_url="https://lumabot.test",
    )


@pytest.fixture
def billing(billing_settings: Settings) -> Billing:
    return Billing.from_settings(billing_settings)


@pytest.fixture
def billed_app(app, billing: Billing):
    """The control API app with billing on."""
    app.state.billing = billing
    return app
