"""The policy editor and the invite form in a real browser (headless Chromium): the forms work
as a person uses them (CSP, multipart, the hidden list carried to Start), every control is
labelled, and each page is screenshotted."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect
from sqlalchemy import select

from store.models import ApprovalPolicy, Role
from tests.api.conftest import synced_event
from tests.web.conftest import assert_accessible_basics, screenshot
from workflows import ids


async def _sign_in(page: Page, portal, role: Role = Role.ADMIN) -> None:
    user_id = await portal.person(role, name="Ada Admin")
    await page.goto(await portal.link(user_id))
    await page.click("#signin")
    await expect(page).to_have_url(re.compile(r"/web/events$"))


async def test_admin_edits_the_policy_in_the_browser(
    page: Page, portal, simulator, automations
) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Browser Dinner")
    await _sign_in(page, portal)
    await page.goto(f"{portal.url}/web/events/{event_id}/policy")
    await assert_accessible_basics(page)

    await page.get_by_label("Add a rule").fill("welcome everyone")
    await page.get_by_role("button", name="Add rule").click()
    await expect(page.locator("#rule-error")).to_contain_text("A rule starts with what to do")
    await page.get_by_label("Add a rule").fill("approve from acme.com")
    await page.get_by_role("button", name="Add rule").click()
    await expect(page.locator("#saved")).to_be_visible()
    await page.get_by_label("Add a rule").fill("hold tag student")
    await page.get_by_role("button", name="Add rule").click()
    await expect(page.locator("#rules li")).to_have_count(2)
    await page.get_by_role("button", name="Move rule 2 up").click()
    await expect(page.locator("#rules li").first).to_contain_text("hold tagged student")

    await page.get_by_label("Mode", exact=True).select_option("suggest")
    await page.get_by_role("button", name="Save mode").click()
    await expect(page.locator("#policy-mode")).to_contain_text("suggest")
    await page.get_by_label("Capacity").fill("40")
    await page.get_by_role("button", name="Save seats").click()
    await expect(page.locator("#policy-mode")).to_contain_text("Capacity: 40 seats")
    await page.locator("#rubric").fill("Approve people who build things.")
    await page.get_by_role("button", name="Save rubric").click()
    await expect(page.locator("#rubric-text")).to_have_text("Approve people who build things.")
    await expect(page.locator("#rubric-decline")).to_contain_text("never declines")
    await screenshot(page, "policy-edit")
    await assert_accessible_basics(page)

    async with portal.sessions() as session:
        row = await session.scalar(
            select(ApprovalPolicy).where(
                ApprovalPolicy.org_id == portal.org.org_id,
                ApprovalPolicy.luma_event_id == event_id,
            )
        )
    assert row is not None and (row.mode, row.capacity) == ("suggest", 40)
    assert [rule["action"] for rule in row.rules] == ["hold", "approve"]


async def test_admin_invites_a_pasted_list_in_the_browser(
    page: Page, portal, simulator, automations
) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Browser Party")
    await _sign_in(page, portal)
    await page.goto(f"{portal.url}/web/events/{event_id}/guests")
    await page.get_by_role("link", name="Invite a list").click()
    await assert_accessible_basics(page)
    await page.get_by_label("Paste addresses").fill(
        "Ada <ada@party.example>\nbob@party.example, nope\nADA@party.example"
    )
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#count-new")).to_have_text("2")
    await expect(page.locator("#count-invalid")).to_have_text("1")
    await expect(page.locator("#count-duplicates")).to_have_text("1")
    await screenshot(page, "invite-preview")
    await assert_accessible_basics(page)
    await page.locator("#start-invites").click()
    await expect(page).to_have_url(re.compile(rf"/web/events/{event_id}/invites/[0-9a-f]{{16}}$"))
    job_id = page.url.rsplit("/", 1)[1]
    handle = automations.client.get_workflow_handle(
        ids.invite_id(portal.org.org_id, event_id, job_id)
    )
    await handle.result()  # the job reconciled; the page now shows its outcome
    await page.reload()
    await expect(page.locator("#invite-added")).to_have_text("2")
    await expect(page.locator("h2#outcome-h")).to_contain_text("Done: all 3 address(es)")
    await screenshot(page, "invite-done")
    event = simulator.state.event(event_id)
    assert {
        event.by_email[e].approval_status for e in ("ada@party.example", "bob@party.example")
    } == {"approved"}
