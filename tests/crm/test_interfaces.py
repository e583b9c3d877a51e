"""The CRM sync from the portal (configure, test write, run now, runs with failures; admins
only, CSRF) and from the bot (/crm sync posts the report, /crm the status), against the
stand-in Airtable over HTTP."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from activities.luma_access import LumaAccess
from core.settings import Settings
from crm.base import ConnectorConfig
from crm.connectors import CrmConfig
from services import crm
from services.automations import Automations, JobDefaults
from services.caller import Caller
from services.crm import CrmSettings
from standins.airtable import FakeAirtable, running_fake_airtable
from store.models import AuditEntry, OrgCrmConnector, Role
from tests.bot.conftest import World, bot_keybox, bot_with, services  # noqa: F401
from tests.crm.test_sync import emails, seed_profiles
from tests.web.conftest import (  # noqa: F401
    assert_accessible_basics,
    automations,
    browser,
    csrf_of,
    job_defaults,
    org,
    page,
    pool,
    portal,
    screenshot,
    simulator,
)
from worker import WorkerClients, build_worker
from workflows.ids import crm_id, crm_schedule_id

BASE_ID = "appPORTALBASE0001"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def airtable() -> AsyncIterator[FakeAirtable]:
    async with running_fake_airtable() as fake:
        yield fake


def crm_config(fake: FakeAirtable) -> CrmConfig:
    return dataclasses.replace(
        CrmConfig.from_settings(Settings(_env_file=None)),
        services={"airtable": ConnectorConfig(fake.url, 5, rate_limit_wait=0.05)},
    )


async def test_portal_configure_test_write_run_and_runs(
    portal,  # noqa: F811
    airtable: FakeAirtable,
    sessions,
    keybox,
) -> None:
    portal.settings.crm_airtable_url = airtable.url
    org_id = portal.org.org_id
    people = emails(3)
    await seed_profiles(sessions, org_id, people)
    async with portal.signed_in(Role.MEMBER) as member:
        assert (await member.get("/web/crm")).status_code == 403
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/crm")
        assert page.status_code == 200 and 'id="crm-form"' in page.text
        form = {
            "kind": "airtable",
            "token": airtable.token,
            "base_id": BASE_ID,
            "table": "Guests",
            "enabled": "on",
            "map_email": "Email",
            "map_name": "Full name",
            "map_vip_score": "VIP",
        }
        refused = await admin.post("/web/crm", data={**form, "csrf": "stale"})
        assert refused.status_code == 403
        async with sessions() as session:
            assert await session.get(OrgCrmConnector, org_id) is None
        token = csrf_of(page.text)
        saved = await admin.post("/web/crm", data={**form, "csrf": token})
        assert saved.status_code == 303, saved.text
        shown = await admin.get("/web/crm")
        assert airtable.token not in shown.text
        assert f'id="crm-token">…{airtable.token[-4:]}<' in shown.text
        assert await portal.automations.schedule_exists(crm_schedule_id(org_id))
        # Pushing our tags to Luma as contact tags: off unless the box is ticked.
        assert 'id="crm-contact-tags">off<' in shown.text
        ticked = {**form, "token": "", "luma_contact_tags": "on", "csrf": token}
        assert (await admin.post("/web/crm", data=ticked)).status_code == 303
        async with sessions() as session:
            row = await session.get(OrgCrmConnector, org_id)
            assert row is not None and row.luma_contact_tags
        assert 'id="crm-contact-tags">on<' in (await admin.get("/web/crm")).text

        tested = await admin.post("/web/crm/test", data={"csrf": token})
        assert tested.status_code == 200, tested.text
        assert 'id="crm-tested"' in tested.text
        (write,) = airtable.writes
        assert write.email == min(people) and write.fields["Full name"]
        assert set(write.fields) <= {"Email", "Full name", "Company", "Title", "VIP"} | {
            "Events attended",
            "No-shows",
            "Tags",
            "Last event",
        }

        # A bad mapping is refused with a sentence, and nothing changes.
        bad = await admin.post(
            "/web/crm", data={**form, "map_email": "", "token": "", "csrf": token}
        )
        assert bad.status_code == 422 and "email must be mapped" in bad.text
        started = await admin.post("/web/crm/run", data={"csrf": token})
        assert started.status_code == 303
    # The run is the worker's (whose CRM URLs are the settings' defaults): it started, under
    # the org's own id, and is stopped here.
    handle = portal.automations.client.get_workflow_handle(crm_id(org_id))
    assert (await handle.describe()).id == crm_id(org_id)
    await handle.terminate("test over")
    async with sessions() as session:
        actions = set(
            (
                await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org_id))
            ).all()
        )
    assert {"crm_configure", "crm_test_write"} <= actions


@pytest.fixture
async def crm_bot(
    services,  # noqa: F811
    sessions,
    bot_keybox,  # noqa: F811
    bot_with,  # noqa: F811
    airtable: FakeAirtable,
) -> AsyncIterator[tuple[World, Automations]]:
    client = services.deps.automations.client
    defaults = JobDefaults(task_queue=f"crm-bot-{uuid.uuid4().hex}")
    clients = WorkerClients(
        sessions=sessions,
        luma=LumaAccess(sessions, bot_keybox, services.deps.luma),
        bot=services.bot,
        crm=crm_config(airtable),
    )
    starter = Automations(client, defaults)
    async with (
        build_worker(client, defaults.task_queue, clients),
        bot_with(automations=starter) as world,
    ):
        yield world, starter


async def test_bot_crm_sync_reports_and_status(
    crm_bot,
    airtable: FakeAirtable,
    sessions,
    bot_keybox,  # noqa: F811
) -> None:
    world, starter = crm_bot
    calendar, chat, admin = await world.linked_group()
    member = world.person()
    await world.member(calendar, member)

    before = await world.say(chat, admin, "/crm")
    assert before.text.startswith("No CRM connector is set up yet")
    async with sessions.begin() as session:
        await crm.configure(
            Caller(calendar.org_id, Role.ADMIN, "web"),
            session,
            automations=starter,
            keybox=bot_keybox,
            form=CrmSettings(kind="airtable", token=airtable.token, base_id=BASE_ID, table="T"),
        )
    refused = await world.say(chat, member, "/crm sync")
    assert "admin" in refused.text.lower()

    started = await world.say(chat, admin, "/crm sync")
    assert started.text.startswith("Syncing changed profiles in the background")
    report = await world.next_message(chat, lambda m: "sync done" in (m.text or ""))
    assert report.text.startswith("📇 Airtable sync done:")
    await starter.client.get_workflow_handle(crm_id(calendar.org_id)).result()
    assert airtable.writes and all(count == 1 for count in airtable.written().values())

    status = await world.say(chat, admin, "/crm")
    assert status.text.startswith(f"CRM sync is on: Airtable {BASE_ID} / T, token …")
    assert f"{len(airtable.writes)} written" in status.text
    for message in world.tg.messages(chat):
        if message.from_bot:
            assert airtable.token not in (message.text or "")


async def test_portal_page_in_a_browser(
    portal,  # noqa: F811
    page: Page,  # noqa: F811
    airtable: FakeAirtable,
) -> None:
    """An admin fills the connector form in a real browser; every control is labelled and the
    token comes back as its last four characters only."""
    user_id = await portal.person(Role.ADMIN, name="Ada Admin")
    await page.goto(await portal.link(user_id))
    await page.click("#signin")
    await expect(page).to_have_url(re.compile(r"/web/events$"))
    await page.goto(f"{portal.url}/web/crm")
    await assert_accessible_basics(page)
    await page.select_option("#crm-kind-select", "airtable")
    await page.fill("#crm-token-input", airtable.token)
    await page.fill("#crm-base", BASE_ID)
    await page.fill("#crm-table", "Guests")
    await page.click('#crm-form button[type="submit"]')
    await expect(page.locator("#crm-token")).to_have_text("…" + airtable.token[-4:])
    assert airtable.token not in await page.content()
    await assert_accessible_basics(page)
    await screenshot(page, "crm")
