"""The portal in a real browser (Debian's headless Chromium driven by Playwright).

Signs in through a bot-issued link, filters and sorts the guest table, bulk-approves a
filtered selection and watches the job finish, edits a profile, and checks that members,
reused links, other orgs' URLs and forged forms are refused; every page is screenshotted.
"""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from store.models import Role
from store.orgs import link_chat
from tests.api.conftest import synced_event
from tests.conftest import eventually
from tests.web.conftest import assert_accessible_basics, screenshot
from workflows import ids


async def _sign_in(page: Page, portal, role: Role = Role.ADMIN) -> int:
    user_id = await portal.person(role, name="Ada Admin" if role is Role.ADMIN else "Max Member")
    await page.goto(await portal.link(user_id))
    await page.click("#signin")  # the page names the calendar and the person first
    await expect(page).to_have_url(re.compile(r"/web/events$"))
    return user_id


async def _column(page: Page, index: int) -> list[str]:
    cells = page.locator(f"#guests tbody tr td:nth-child({index})")
    return [text.strip() for text in await cells.all_inner_texts()]


async def test_admin_filters_sorts_bulk_approves_and_watches_the_job(
    page: Page, portal, simulator, automations
) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        portal.org,
        name="Browser Summit",
        guests=40,
        status_mix={"pending_approval": 0.5, "approved": 0.5},
    )
    await _sign_in(page, portal)
    await expect(page.get_by_role("heading", name="Events")).to_be_visible()
    await expect(page.get_by_role("link", name="Browser Summit")).to_be_visible()
    await screenshot(page, "events")
    await assert_accessible_basics(page)

    await page.get_by_role("link", name="Browser Summit").click()
    await expect(page.locator("#guest-total")).to_have_text("40")
    await page.get_by_label("Status").select_option("pending_approval")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#guest-total")).to_have_text("20")
    statuses = await _column(page, 5)  # checkbox, name, email, company, status
    assert statuses == ["pending"] * 20  # a word, not Luma's label

    await page.locator('a[data-sort="email"]').click()
    await expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Email")
    emails = await _column(page, 3)
    assert emails == sorted(emails) and len(emails) == 20
    await page.locator('a[data-sort="email"]').click()
    await expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Email")
    assert await _column(page, 3) == sorted(emails, reverse=True)
    await screenshot(page, "guests")
    await assert_accessible_basics(page)

    await page.get_by_role("button", name="Approve all 20 matching").click()
    await expect(page.locator("#confirm-matched")).to_have_text("20")
    await expect(page.locator("#confirm-change")).to_have_text("20")
    await screenshot(page, "bulk-confirm")
    await page.locator("#confirm-bulk").click()
    await expect(page).to_have_url(re.compile(r"/web/jobs/bulk-"))
    await expect(page.locator("#job-status")).to_have_text("completed", timeout=30_000)
    await expect(page.locator("#job-counts")).to_contain_text("20 done")
    await screenshot(page, "job")
    guests = simulator.state.calendar(portal.org.calendar_id).events[event_id].guests.values()
    assert {guest.approval_status for guest in guests} == {"approved"}

    async def job_listed() -> bool:
        await page.goto(f"{portal.url}/web/jobs")
        return await page.locator("#jobs a", has_text="Bulk status change").count() > 0

    await eventually(job_listed, timeout=15, interval=0.5)
    await screenshot(page, "jobs")


async def test_profile_tags_notes_and_the_other_pages(
    page: Page, portal, simulator, automations
) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, name="Profile Night", guests=3
    )
    admin = await _sign_in(page, portal)
    chat_id = -(10**12) - uuid.uuid4().int % 10**9
    async with portal.sessions.begin() as session:
        await link_chat(
            session,
            chat_id=chat_id,
            org_id=portal.org.org_id,
            kind="supergroup",
            title="Organizers",
            linked_by=admin,
        )
    await page.goto(f"{portal.url}/web/events/{event_id}/guests?sort=email")
    first = page.locator("#guests tbody tr").first.locator("td:nth-child(2) a")
    await first.click()
    await expect(page.get_by_role("heading", name="History")).to_be_visible()
    await expect(page.get_by_role("link", name="Profile Night")).to_be_visible()
    await page.get_by_label("New tag").fill("Speaker")
    await page.get_by_role("button", name="Add tag").click()
    await expect(page.locator("#tags")).to_contain_text("speaker")
    await page.get_by_label("Add a note").fill("Met at the door; <b>loves</b> tea.")
    await page.get_by_role("button", name="Save note").click()
    await expect(page.locator("#notes")).to_contain_text("Met at the door; <b>loves</b> tea.")
    await screenshot(page, "profile")
    await assert_accessible_basics(page)
    await page.get_by_label("Add a note").fill("A note to take back")
    await page.get_by_role("button", name="Save note").click()
    await page.locator("#notes li", has_text="A note to take back").get_by_role("button").click()
    await expect(page.locator("#notes")).not_to_contain_text("A note to take back")
    await expect(page.locator("#notes")).to_contain_text("loves")

    # The tag is a filter of the guest browser now.
    await page.goto(f"{portal.url}/web/events/{event_id}/guests?tag=speaker")
    await expect(page.locator("#guest-total")).to_have_text("1")

    for path, heading in (
        ("automations", "Automations"),
        ("team", "Team"),
        ("gmail", "Send from Gmail"),
        ("key", "Luma key"),  # last: the token form below is on this page
    ):
        await page.goto(f"{portal.url}/web/{path}")
        await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        await screenshot(page, path)
        await assert_accessible_basics(page)
        if path == "automations":
            await page.get_by_label("Send a daily digest").check()
            await page.get_by_label("Time", exact=True).fill("08:15")
            await page.get_by_label("Time zone").fill("Asia/Dubai")
            await page.get_by_role("button", name="Save", exact=True).click()
            await expect(page.get_by_role("status")).to_contain_text("Saved")
            assert await portal.automations.schedule_exists(ids.digest_schedule_id(chat_id))
            await portal.automations.clear_digest(chat_id)
    await page.get_by_label("Name").fill("laptop")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.locator("#new-token")).to_contain_text("lbt_")
    await page.goto(f"{portal.url}/web/key")
    await expect(page.locator("#new-token")).to_have_count(0)  # shown once

    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await page.goto(f"{portal.url}/web/events/{event_id}/guests")
    await screenshot(page, "guests-phone")


async def test_refusals_in_the_browser(
    page: Page, browser, portal, simulator, automations, other_org
) -> None:
    theirs = await synced_event(simulator, automations, other_org, guests=1)
    ours = await synced_event(simulator, automations, portal.org, guests=2)
    member_id = await portal.person(Role.MEMBER)
    link = await portal.link(member_id)
    await page.goto(link)
    await page.click("#signin")
    await expect(page).to_have_url(re.compile(r"/web/events$"))

    # The same link in another browser: already used.
    stranger = await browser.new_context()
    other_page = await stranger.new_page()
    response = await other_page.goto(link)
    assert response is not None and response.status == 403
    await expect(other_page.get_by_role("heading", name="Sign-in link refused")).to_be_visible()
    await screenshot(other_page, "link-refused")
    await stranger.close()

    # A member sees no write controls, and a forged form is refused.
    await page.goto(f"{portal.url}/web/events/{ours}/guests")
    await expect(page.get_by_role("button", name="Approve selected")).to_have_count(0)
    await page.goto(f"{portal.url}/web/key")
    await expect(page.get_by_role("button", name="Create token")).to_have_count(0)
    await page.evaluate(
        """() => {
            const form = document.querySelector('form[action="/web/signout"]').cloneNode(true);
            form.action = "/web/key/tokens";
            document.body.appendChild(form);
            form.submit();
        }"""
    )
    await expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
    await screenshot(page, "member-refused")

    # Another org's event is simply not there.
    response = await page.goto(f"{portal.url}/web/events/{theirs}/guests")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await screenshot(page, "not-found")


async def test_a_form_with_a_wrong_csrf_token_is_refused(page: Page, portal) -> None:
    await _sign_in(page, portal)
    await page.goto(f"{portal.url}/web/key")
    await page.locator('form[action="/web/key/tokens"] input[name="csrf"]').evaluate(
        "input => input.value = 'forged'"
    )
    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_role("heading", name="Form expired")).to_be_visible()
    await screenshot(page, "csrf-refused")


async def test_live_progress_pause_and_resume(page: Page, portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=40, status_mix={"pending_approval": 1.0}
    )
    await _sign_in(page, portal)
    await page.goto(f"{portal.url}/web/events/{event_id}/guests")
    await page.get_by_role("button", name="Approve all 40 matching").click()
    simulator.state.configure(latency_seconds=0.25)  # slow enough to press Pause
    try:
        await page.locator("#confirm-bulk").click()
        await page.get_by_role("button", name="Pause").click()
        await expect(page.locator("#job-phase")).to_have_text("paused")
        bar = page.locator("#job-bar")
        paused_at = int(await bar.get_attribute("value") or 0)
        assert paused_at < 100
        job_url = page.url

        # The jobs list polls the paused job too (a paused workflow is still running).
        async def listed() -> bool:
            await page.goto(f"{portal.url}/web/jobs")
            return await page.locator(".live-status").count() == 1

        await eventually(listed, timeout=15, interval=0.5)
        await expect(page.locator(".live-status")).to_have_attribute("data-polled", "1")
        await expect(page.locator(".live-bar")).to_have_attribute("value", str(paused_at))
        await page.goto(job_url)
        await page.get_by_role("button", name="Resume").click()
        # The page polls the workflow's progress query and ends on its final state.
        await expect(page.locator("#job-status")).to_have_text("completed", timeout=30_000)
    finally:
        simulator.state.configure(latency_seconds=0.0)
    await expect(page.locator("#job-counts")).to_contain_text("40 done")
    await expect(bar).to_have_attribute("value", "100")


async def test_plan_page_with_billing_on(page: Page, billed_portal) -> None:
    await _sign_in(page, billed_portal)
    await page.get_by_role("link", name="Plan", exact=True).click()
    await expect(page.get_by_role("heading", name="Plan", exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Free plan")).to_be_visible()
    await expect(page.locator("#limits")).to_contain_text("Guests per bulk job")
    await expect(page.get_by_role("button", name="Upgrade to Pro")).to_be_visible()
    await expect(page.get_by_role("button", name="Upgrade to Team")).to_be_visible()
    await screenshot(page, "plan")
    await assert_accessible_basics(page)
