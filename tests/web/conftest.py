"""Fixtures for the web portal: the control API app serving /web on a free port, over real
PostgreSQL, Temporal (with a worker) and the Luma simulator; people with roles; sign-in links
issued by the same code the bot's /web uses; and one headless Chromium per test module.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import ApiDeps, ApiLimits
from api.main import create_app
from billing import Billing
from core.http_server import serving
from core.settings import Settings
from services.automations import Automations
from store.models import Role
from store.orgs import set_role, upsert_user
from tests.billing import conftest as billing_fixtures
from tests.workflows import conftest as workflow_fixtures
from tests.workflows.conftest import LinkedOrg, link_calendar
from web.auth import COOKIE, issue_signin_link
from web.deps import WebDeps

simulator = workflow_fixtures.simulator
org = workflow_fixtures.org
pool = workflow_fixtures.pool
job_defaults = workflow_fixtures.job_defaults
automations = workflow_fixtures.automations
plans_file = billing_fixtures.plans_file  # small test plans (free: bulk of 5, 2 members)
fake_stripe = billing_fixtures.fake_stripe
billing_settings = billing_fixtures.billing_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("WEB_ARTIFACTS_DIR", Path(__file__).parents[1] / "artifacts"))
_user_ids = itertools.count(7_000_000_000 + uuid.uuid4().int % 10**8 * 10)
# Every test's client is 127.0.0.1 and the counts outlive a test in the shared database, so
# the portal's per-address limits are out of the way here; `test_limits` sets tight ones.
LOOSE_LIMITS = ApiLimits(
    portal_signins_per_minute=100_000,
    portal_writes_per_minute=100_000,
    portal_client_writes_per_minute=100_000,
)


class SignedInClient(httpx.AsyncClient):
    """A client of the portal with the session cookie of the person `user_id`."""

    user_id: int


@dataclass
class Portal:
    """The running portal and what a test needs to act on it as different people."""

    url: str
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    org: LinkedOrg
    automations: Automations
    app: FastAPI

    def use_billing(self, billing: Billing) -> None:
        """Plans and Stripe as the pages see them (by default billing is off)."""
        self.app.state.billing = billing

    async def person(self, role: Role | None, org_id: int | None = None, name: str = "") -> int:
        """A Telegram user with `role` in the org (None: a user with no membership)."""
        user_id = next(_user_ids)
        async with self.sessions.begin() as session:
            await upsert_user(
                session, user_id=user_id, username=f"u{user_id}", full_name=name or "Tester"
            )
            if role is not None:
                await set_role(
                    session, org_id=org_id or self.org.org_id, user_id=user_id, role=role
                )
        return user_id

    async def link(self, user_id: int, org_id: int | None = None) -> str:
        """A sign-in link, issued exactly as the bot's /web issues it."""
        async with self.sessions.begin() as session:
            return await issue_signin_link(
                session,
                settings=self.settings,
                user_id=user_id,
                org_id=org_id or self.org.org_id,
            )

    @asynccontextmanager
    async def signed_in(
        self, role: Role = Role.ADMIN, org_id: int | None = None
    ) -> AsyncIterator[SignedInClient]:
        """An httpx client signed in as a new person with `role` (follows no redirects)."""
        user_id = await self.person(role, org_id)
        async with SignedInClient(base_url=self.url, timeout=20) as client:
            response = await follow_signin(client, await self.link(user_id, org_id))
            assert response.status_code == 303, response.text
            assert client.cookies.get(COOKIE)
            client.user_id = user_id
            yield client


async def follow_signin(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """What a person does with the bot's link: open it (a page naming the calendar and the
    person; nothing signed in yet), then press Sign in (the POST that spends the link)."""
    page = await client.get(link)
    if page.status_code != 200:
        return page
    assert 'id="signin"' in page.text and client.cookies.get(COOKIE) is None
    token = parse_qs(urlsplit(link).query)["t"][0]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(link)) if "://" in link else None
    return await client.post(
        link.split("?", 1)[0],
        data={"t": token},
        headers={"Origin": origin} if origin else {},
    )


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    return html.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
async def portal(
    db_url, sessions, keybox, encryption_keys, pool, automations, org
) -> AsyncIterator[Portal]:
    settings = Settings(
        _env_file=None, database_url=db_url, encryption_keys=",".join(encryption_keys)
    )
    web = WebDeps(settings, pool, keybox_override=keybox)
    app = create_app(settings, deps=ApiDeps(sessions, automations), web=web, limits=LOOSE_LIMITS)
    app.state.billing = Billing.from_settings(settings)  # billing off: DEFAULT_PLAN for all
    async with serving(app) as url:
        settings.public_url = url
        yield Portal(url, settings, sessions, org, automations, app)


@pytest.fixture
async def billed_portal(portal: Portal, billing_settings: Settings) -> Portal:
    """The portal with billing on: the test plans, and Stripe calls going to the fake."""
    portal.use_billing(Billing.from_settings(billing_settings))
    return portal


@pytest.fixture
async def other_org(sessions, keybox, simulator) -> LinkedOrg:
    return await link_calendar(sessions, keybox, simulator, f"Other {uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium (Debian's package) per test module."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) per test, laptop-sized."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    yield page
    await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (WEB_ARTIFACTS_DIR or tests/artifacts)."""
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    path = ARTIFACTS / f"web-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !el.labels.length && !el.getAttribute('aria-label'))
    .map(el => el.name || el.id)"""


async def assert_accessible_basics(page: Page) -> None:
    """Every control has a label, and the page has its landmarks and one h1."""
    assert await page.evaluate(UNLABELLED) == []
    assert await page.locator("main#main").count() == 1
    assert await page.locator("h1").count() == 1
    assert await page.get_by_role("link", name="Skip to content").count() == 1
