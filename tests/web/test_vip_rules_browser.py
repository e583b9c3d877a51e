"""The VIP rule editor in a real browser: reached from the navigation, Preview shows the
counts without saving, Save and Reset to defaults change the org's rules."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from luma.emails import identity_key
from store.models import OrgVipRules, Role
from store.profiles import add_tag
from tests.api.conftest import synced_event
from tests.web.conftest import assert_accessible_basics, screenshot


async def test_preview_save_and_reset_in_the_browser(
    page: Page, portal, simulator, automations
) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=4, status_mix={"approved": 1.0}
    )
    press = next(iter(simulator.state.event(event_id).guests.values())).person.email
    async with portal.sessions.begin() as session:
        await add_tag(
            session,
            org_id=portal.org.org_id,
            normalized_email=identity_key(press),
            tag="press",
            user_id=None,
        )
    user_id = await portal.person(Role.ADMIN, name="Ada Admin")
    await page.goto(await portal.link(user_id))
    await page.click("#signin")
    await expect(page).to_have_url(re.compile(r"/web/events$"))

    await page.get_by_role("link", name="VIP rules").click()
    await expect(page.get_by_role("heading", name="VIP rules", exact=True)).to_be_visible()
    await assert_accessible_basics(page)
    await page.get_by_label("Points per tag").fill("vip=100, press=60")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#becoming")).to_have_text("1")
    await expect(page.locator("#preview")).to_contain_text(identity_key(press))
    await expect(page.get_by_label("Points per tag")).to_have_value("vip=100, press=60")
    await screenshot(page, "vip-rules-preview")
    async with portal.sessions() as session:
        assert await session.get(OrgVipRules, portal.org.org_id) is None

    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#saved")).to_contain_text("Saved")
    async with portal.sessions() as session:
        row = await session.get(OrgVipRules, portal.org.org_id)
        assert row is not None and row.rules["tag_points"] == {"press": 60, "vip": 100}

    await page.get_by_role("button", name="Reset to defaults").click()
    await expect(page.locator("#reset")).to_contain_text("Back to the defaults")
    await expect(page.get_by_label("Points per tag")).not_to_have_value(re.compile("press=60"))
