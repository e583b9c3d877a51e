"""The budget follows the limit Luma announces for a key, within the configured ceiling; an
organization key's calendars spend one budget.

Each "before" runs the same load against a simulator that announces nothing (the budget
then keeps to its ceiling, as it did before it read the headers), to show the 429s that
following the announced limit saves.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.luma_access import LumaAccess
from luma.announced import AnnouncedLimits, read_announcement
from luma.client import KEY_HEADER, LumaClient, LumaPool
from luma.errors import RateLimitedError
from luma.ratelimit import ORGANIZATION_KEY, BudgetPolicy, RateBudget, budget_key, ceilings
from standins.luma import CalendarHandle, RunningSimulator, SimulatorConfig, running_simulator
from store.crypto import KeyBox
from store.orgs import save_org
from store.rate_budget import DatabaseRateBudget
from tests.luma.test_rate_budget import max_in_any_span

WINDOW = 2.0  # the simulator's window, and ours, scaled down from Luma's minute
ANNOUNCED = 30  # what the simulator states, below our ceiling
CEILING = 200  # LUMA_RATE_LIMIT's default
POLICY = BudgetPolicy.scaled(CEILING, WINDOW)
CALLERS, CALLS = 4, 10  # bulk callers sharing a key, calls each: more than one window allows


@contextmanager
def unannounced(sim: RunningSimulator) -> Iterator[None]:
    """A Luma whose answers announce nothing: the budget can only keep to its ceiling, as
    it did before it read the headers."""
    sim.state.configure(rate_headers=False)
    try:
        yield
    finally:
        sim.state.configure(rate_headers=True)


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(
        calendars=0,
        rate_limit=ANNOUNCED,
        org_rate_limit=ANNOUNCED,
        rate_window_seconds=WINDOW,
        rate_block_seconds=1.0,
    )
    async with running_simulator(config) as running:
        yield running


async def refusals(clients: list[LumaClient], calls: int = CALLS) -> int:
    """Calls through `clients` (one caller each, all at once, no retries) that Luma refused."""
    refused = 0

    async def caller(luma: LumaClient) -> None:
        nonlocal refused
        for _ in range(calls):
            try:
                await luma.get_self()
            except RateLimitedError:
                refused += 1

    async with asyncio.timeout(60):  # a hang guard, far above the few windows this takes
        await asyncio.gather(*(caller(luma) for luma in clients))
    return refused


async def bulk_refusals(
    sim: RunningSimulator, budget: RateBudget, calendar: CalendarHandle, key: str
) -> int:
    async with LumaPool(sim.base_url, budget=budget, max_retries=0) as pool:
        return await refusals([pool.client(calendar.api_key, budget_key=key)] * CALLERS)


def test_announcements_are_read_in_every_form() -> None:
    now = 1_800_000_000.0
    headers = {"x-ratelimit-limit": "200", "x-ratelimit-remaining": "0"}
    for reset in ("1800000012", "1800000012000", "12", "2027-01-15T08:00:12Z"):
        announced = read_announcement({**headers, "x-ratelimit-reset": reset}, now)
        assert announced is not None and announced.limit == 200
        assert announced.exhausted_for == 12.0, reset
    assert read_announcement({"x-ratelimit-limit": "500, 500;w=60"}, now) == read_announcement(
        {"x-ratelimit-limit": "500"}, now
    )
    quiet = read_announcement({"x-ratelimit-limit": "30", "x-ratelimit-remaining": "4"}, now)
    assert quiet is not None and (quiet.limit, quiet.exhausted_for) == (30, None)
    past = read_announcement({**headers, "x-ratelimit-reset": "1799999990"}, now)
    assert past is not None and past.exhausted_for == 0.0
    assert read_announcement({"content-type": "application/json"}, now) is None
    garbage = read_announcement({"x-ratelimit-limit": "lots", "x-ratelimit-remaining": "0"})
    assert garbage is not None and garbage.limit is None and garbage.exhausted_for is None


def test_the_allowance_is_the_announced_limit_under_the_ceiling() -> None:
    limits = AnnouncedLimits()
    assert limits.allowance("cal-a", CEILING) == CEILING  # nothing heard yet
    limits.record("cal-a", ANNOUNCED)
    limits.record("cal-b", 500)
    limits.record("cal-c", 0)  # not a limit: ignored
    assert limits.allowance("cal-a", CEILING) == ANNOUNCED
    assert limits.allowance("cal-b", CEILING) == CEILING
    assert limits.allowance("cal-c", CEILING) == CEILING
    limits.record("cal-a", 120)  # Luma changed its mind: the newest figure counts
    assert limits.allowance("cal-a", CEILING) == 120


def test_an_organization_key_names_one_budget_for_all_its_calendars() -> None:
    assert budget_key("cal-a", "secret-key-a") == "cal-a"
    assert budget_key("cal-a", "secret-key-a", "calendar") == "cal-a"
    shared = budget_key("cal-a", "org-secret-1", ORGANIZATION_KEY)
    assert shared == budget_key("cal-b", "org-secret-1", ORGANIZATION_KEY)
    assert shared != budget_key("cal-a", "org-secret-2", ORGANIZATION_KEY)
    assert "org-secret-1" not in shared and len(shared) <= 128
    # Its ceiling is Luma's 500 (in proportion to a configured calendar limit), not 200.
    assert (ceilings(200)("cal-a"), ceilings(200)(shared)) == (200, 500)
    assert (ceilings(30)("cal-a"), ceilings(30)(shared)) == (30, 75)


async def test_bulk_paces_itself_to_a_lower_announced_limit(
    sim: RunningSimulator, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with unannounced(sim):
        deaf = await bulk_refusals(
            sim, DatabaseRateBudget(sessions, POLICY), sim.state.add_calendar(), fresh_key()
        )
    budget = DatabaseRateBudget(sessions, POLICY)
    calendar, key = sim.state.add_calendar(), fresh_key()
    assert budget.limit_for(key) == CEILING
    following = await bulk_refusals(sim, budget, calendar, key)

    # At the ceiling's pace the callers ran into Luma's limit; at the announced one, never.
    assert deaf > 0
    assert following == sim.state.rate_limited[calendar.id] == 0
    assert sim.state.requests[calendar.id] == CALLERS * CALLS
    assert budget.limit_for(key) == ANNOUNCED
    assert await max_in_any_span(sessions, key, WINDOW) <= ANNOUNCED - POLICY.safety


async def test_a_higher_announced_limit_keeps_the_ceiling(
    sim: RunningSimulator, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ceiling = 20  # below the simulator's 30: our own ceiling binds
    policy = BudgetPolicy.scaled(ceiling, WINDOW)
    budget = DatabaseRateBudget(sessions, policy)
    calendar, key = sim.state.add_calendar(), fresh_key()
    assert await bulk_refusals(sim, budget, calendar, key) == 0
    assert budget.limit_for(key) == ceiling
    assert await max_in_any_span(sessions, key, policy.span) <= ceiling


async def test_none_left_holds_the_key_until_luma_resets_the_window(
    sim: RunningSimulator, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Another integration on the same calendar spends what our log cannot see; when Luma
    answers that nothing is left, the next call waits for the reset instead of a 429."""
    for announced in (False, True):
        calendar, key = sim.state.add_calendar(), fresh_key()
        budget = DatabaseRateBudget(sessions, POLICY)
        with ExitStack() as stack:
            if not announced:
                stack.enter_context(unannounced(sim))
            async with (
                httpx.AsyncClient(base_url=sim.base_url) as other,
                LumaPool(sim.base_url, budget=budget) as pool,
            ):
                auth = {KEY_HEADER: calendar.api_key}
                for _ in range(ANNOUNCED - 1):
                    response = await other.get("/v1/users/get-self", headers=auth)
                    assert response.status_code == 200
                luma = pool.client(calendar.api_key, budget_key=key, max_retries=0)
                await luma.get_self()  # the window's last request: "Remaining: 0"
                refused = await refusals([luma], calls=1)
        assert refused == sim.state.rate_limited[calendar.id] == (0 if announced else 1)


async def test_an_organization_keys_calendars_share_one_budget(
    sim: RunningSimulator,
    sessions: async_sessionmaker[AsyncSession],
    keybox: KeyBox,
) -> None:
    """Two tenants linked through one organization key (500 a minute per organization at
    Luma, 30 per window here), one per calendar of the organization, pace together, as the
    activities' clients."""
    refused = []
    for shared in (False, True):
        org_key = sim.state.add_organization(calendars=2)
        async with sessions() as session, session.begin():
            tenants = [
                await save_org(
                    session,
                    calendar_id=calendar.id,
                    name=calendar.name,
                    luma_key=org_key.api_key,
                    keybox=keybox,
                    key_kind=ORGANIZATION_KEY,
                )
                for calendar in org_key.calendars
            ]
        budget = DatabaseRateBudget(sessions, POLICY)
        async with LumaPool(sim.base_url, budget=budget) as pool:
            if shared:
                access = LumaAccess(sessions, keybox, pool)
                clients = [await access.client(tenant.id) for tenant in tenants]
            else:  # a budget per calendar, as the activities' clients had before
                clients = [
                    pool.client(org_key.api_key, budget_key=tenant.luma_calendar_id, max_retries=0)
                    for tenant in tenants
                ]
            refused.append(await refusals(clients * (CALLERS // 2)))
        assert sim.state.requests[org_key.id] == CALLERS * CALLS

    assert clients[0].budget_key == clients[1].budget_key
    before, after = refused
    assert before > 0
    assert after == sim.state.rate_limited[org_key.id] == 0


def fresh_key() -> str:
    return uuid.uuid4().hex[:12]
