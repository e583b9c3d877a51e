"""Fixtures for the application layer's tests: the workflow tests' org, Luma simulator and
worker; billing from the small test plans; people with a role, as callers; the audit log.

`billing` is off (every org has the Team plan: no limits); `billed`, `free` and `pro` give
every org that plan of the test plans (Free: bulk jobs of 5 guests, 2 members, syncs every
60 minutes at most, no enrichment).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from billing import Billing
from core.settings import Settings
from services.caller import Caller, Source
from store.models import AuditEntry, Role
from store.orgs import set_role, upsert_user
from tests.api import conftest as api_fixtures
from tests.billing import conftest as billing_fixtures
from tests.workflows import conftest as workflow_fixtures

# A simulator with a seed of its own per test (new calendar and event ids each time).
simulator = api_fixtures.simulator
org = workflow_fixtures.org
pool = workflow_fixtures.pool
job_defaults = workflow_fixtures.job_defaults
automations = workflow_fixtures.automations
plans_file = billing_fixtures.plans_file


def billing_on(plans_file: Path, db_url: str, plan: str) -> Billing:
    """Billing from the test plans with Stripe off: every org has `plan`."""
    settings = Settings(
        _env_file=None, database_url=db_url, billing_plans_file=plans_file, default_plan=plan
    )
    return Billing.from_settings(settings)


@pytest.fixture
def billing(plans_file: Path, db_url: str) -> Billing:
    return billing_on(plans_file, db_url, "team")


@pytest.fixture
def billed(plans_file: Path, db_url: str) -> Billing:
    return billing_on(plans_file, db_url, "free")


free = billed


@pytest.fixture
def pro(plans_file: Path, db_url: str) -> Billing:
    return billing_on(plans_file, db_url, "pro")


async def person(sessions, org_id: int | None, role: Role | None) -> int:
    """A Telegram user the bot has met (username `P<id>`), with `role` in the org if given."""
    user_id = 10**9 + uuid.uuid4().int % 10**9
    async with sessions.begin() as session:
        await upsert_user(session, user_id=user_id, username=f"P{user_id}", full_name="Person")
        if org_id is not None and role is not None:
            await set_role(session, org_id=org_id, user_id=user_id, role=role)
    return user_id


async def caller(
    sessions, org_id: int, role: Role, source: Source = "bot", *, chat_id: int | None = None
) -> Caller:
    """A new person with `role` in the org, as the caller of a use case."""
    user_id = await person(sessions, org_id, role)
    return Caller(org_id, role, source, user_id, chat_id)


async def audit_rows(sessions, org_id: int, action: str | None = None) -> list[AuditEntry]:
    async with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.org_id == org_id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(await session.scalars(query.order_by(AuditEntry.id)))


def admin_of(org_id: int, user_id: int = 7001, chat_id: int | None = -7001) -> Caller:
    """An admin in a chat, without a membership row (the bot's `Access` may say so too)."""
    return Caller(org_id, Role.ADMIN, "bot", user_id, chat_id)


def member_of(org_id: int, user_id: int = 7002) -> Caller:
    return Caller(org_id, Role.MEMBER, "bot", user_id, -7001)
