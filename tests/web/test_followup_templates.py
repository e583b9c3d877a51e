"""The portal's follow-up templates page: saving (refusals shown before anything is saved),
previews for a real guest of a synced event, the default per audience, members read-only."""

from __future__ import annotations

import re
from html import unescape

from playwright.async_api import Page, expect
from sqlalchemy import select

from store.models import AuditEntry, FollowupTemplate, Role
from tests.api.conftest import synced_event
from tests.web.conftest import assert_accessible_basics, csrf_of, screenshot

URL = "/web/followup-templates"


async def saved(portal) -> list[FollowupTemplate]:
    async with portal.sessions() as session:
        found = await session.scalars(
            select(FollowupTemplate).where(FollowupTemplate.org_id == portal.org.org_id)
        )
        return list(found.all())


async def test_templates_page_saves_previews_and_refuses(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        portal.org,
        name="Harbour Meetup",
        city="Lisbon",
        guests=6,
        status_mix={"approved": 1.0},
    )
    guest = min(
        simulator.state.calendar(portal.org.calendar_id).events[event_id].guests.values(),
        key=lambda g: g.person.email,
    )
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(URL)).text)
        form = {
            "csrf": token,
            "name": "Thanks",
            "subject": "Thanks, {{ first_name }}",
            "body": "Good to see you at {{ event_name }} in {{ city }}.",
            "event": event_id,
            "guest": guest.person.email,
        }
        # A preview of the text as typed, for a real guest: nothing is saved.
        shown = await admin.post(f"{URL}/save", data=form | {"do": "preview"})
        assert shown.status_code == 200
        page = unescape(shown.text)
        first = guest.person.name.split()[0]
        assert f'<span id="preview-subject">Thanks, {first}</span>' in page
        assert "Good to see you at Harbour Meetup in Lisbon." in page
        assert await saved(portal) == []

        # An unknown placeholder is refused with its name, and the form keeps the text.
        wrong = await admin.post(
            f"{URL}/save", data=form | {"body": "Hi {{ frist_name }}", "do": "save"}
        )
        assert wrong.status_code == 422
        assert "{{ frist_name }}, which is not a placeholder" in unescape(wrong.text)
        assert "Hi {{ frist_name }}</textarea>" in unescape(wrong.text)
        escape = await admin.post(
            f"{URL}/save", data=form | {"body": "{{ ''.__class__ }}", "do": "save"}
        )
        assert escape.status_code == 422 and "__class__" in unescape(escape.text)
        assert await saved(portal) == []

        done = await admin.post(f"{URL}/save", data=form | {"do": "save"})
        assert done.status_code == 303
        [row] = await saved(portal)
        made = await admin.post(
            f"{URL}/default",
            data={"csrf": token, "template_id": str(row.id), "audience": "no-shows"},
        )
        assert made.status_code == 303
        listing = unescape((await admin.get(URL)).text)
        assert "approved guests who did not come" in listing

    async with portal.signed_in(Role.MEMBER) as member:
        page = unescape((await member.get(f"{URL}?edit={row.id}&event={event_id}")).text)
        assert "Thanks, " in page and 'id="preview"' in page  # members read and preview
        token = csrf_of(page)
        refused = await member.post(
            f"{URL}/save",
            data={
                "csrf": token,
                "template_id": str(row.id),
                "name": "Thanks",
                "subject": "Changed",
                "body": "Changed",
            },
        )
        assert refused.status_code == 403
        gone = await member.post(f"{URL}/delete", data={"csrf": token, "template_id": str(row.id)})
        assert gone.status_code == 403
    [still] = await saved(portal)
    assert (still.subject, still.default_for) == ("Thanks, {{ first_name }}", "no-shows")
    async with portal.sessions() as session:
        results = (
            await session.scalars(
                select(AuditEntry.result).where(
                    AuditEntry.org_id == portal.org.org_id,
                    AuditEntry.action == "followup_template",
                )
            )
        ).all()
    assert sorted(results) == ["created", "default set"]


async def test_templates_page_in_a_browser(page: Page, portal, simulator, automations) -> None:
    """Type a template, preview it for a guest, see a refusal, save it: with labels and
    landmarks in place."""
    event_id = await synced_event(
        simulator, automations, portal.org, name="Browser Night", guests=3
    )
    user_id = await portal.person(Role.ADMIN, name="Ada Admin")
    await page.goto(await portal.link(user_id))
    await page.click("#signin")
    await expect(page).to_have_url(re.compile(r"/web/events$"))
    await page.get_by_role("link", name="Email templates").click()
    await expect(page.get_by_role("heading", name="Follow-up templates")).to_be_visible()
    await page.get_by_label("Name").fill("Thanks")
    await page.get_by_label("Subject").fill("Thanks for {{ event_name }}")
    await page.get_by_label("Text").fill("Hi {{ first_nam }}")
    await page.get_by_role("button", name="Save template").click()
    await expect(page.get_by_role("alert")).to_contain_text("{{ first_nam }}")
    await page.get_by_label("Text").fill("Hi {{ first_name }}, see you at the next one.")
    await page.get_by_label("Preview for a guest of").select_option(event_id)
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#preview-subject")).to_have_text("Thanks for Browser Night")
    await expect(page.locator("#preview-body")).to_contain_text(", see you at the next one.")
    await assert_accessible_basics(page)
    await screenshot(page, "followup-templates")
    await page.get_by_role("button", name="Save template").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved")
    await expect(page.locator("#templates")).to_contain_text("Thanks for {{ event_name }}")
