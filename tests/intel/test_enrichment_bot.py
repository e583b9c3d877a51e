"""/enrich through the local Bot API: the key message deleted, an answer at once, the report
posted by the workflow, the status, and refusals — against the fake provider over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from activities.enrichment import EnrichmentConfig
from activities.luma_access import LumaAccess
from core.settings import Settings
from services.automations import Automations, JobDefaults
from standins.enrichment import FakeProvider, Known, running_fake_provider
from store.models import AuditEntry, OrgEnrichment
from tests.bot.conftest import World, bot_keybox, bot_with, services  # noqa: F401
from worker import WorkerClients, build_worker
from workflows.ids import enrich_id, enrich_schedule_id


@pytest.fixture
async def enriching(
    services,  # noqa: F811
    sessions,
    bot_keybox,  # noqa: F811
    bot_with,  # noqa: F811
) -> AsyncIterator[tuple[World, FakeProvider, Automations]]:
    """A bot whose workflows run on a worker that talks to the fake provider."""
    client = services.deps.automations.client
    async with running_fake_provider() as fake:
        defaults = JobDefaults(task_queue=f"enrich-bot-{uuid.uuid4().hex}")
        clients = WorkerClients(
            sessions=sessions,
            luma=LumaAccess(sessions, bot_keybox, services.deps.luma),
            bot=services.bot,
            enrichment=replace(
                EnrichmentConfig.from_settings(Settings(_env_file=None)),
                base_urls={"pdl": fake.url, "apollo": fake.url},
                ttl=timedelta(days=1),
            ),
        )
        automations = Automations(client, defaults)
        async with (
            build_worker(client, defaults.task_queue, clients),
            bot_with(automations=automations) as world,
        ):
            yield world, fake, automations


async def test_enrich_on_run_status_off(enriching, sessions) -> None:
    world, fake, automations = enriching
    calendar, chat, admin = await world.linked_group()
    fake.people["someone@nowhere.example"] = Known("Nowhere", "CEO", "cxo")

    said = world.tg.user_says(chat, admin, f"/enrich on pdl {fake.api_key}")
    reply = await world.tg.wait_for_reply(chat)
    assert world.tg.was_deleted(chat, said["message"]["message_id"])
    assert reply.text.startswith("Enrichment on with People Data Labs (key …-key).")
    report = await world.next_message(chat, lambda m: "Enrichment done" in (m.text or ""))
    assert "people checked" in report.text
    assert await automations.schedule_exists(enrich_schedule_id(calendar.org_id))
    assert len(fake.calls) > 0 and all(c.key == fake.api_key for c in fake.calls)

    # The report is the run's last step; once the run has ended, /enrich run starts another
    # (while it is still ending, a second request joins it, as a double click would).
    await automations.client.get_workflow_handle(enrich_id(calendar.org_id)).result()
    status = await world.say(chat, admin, "/enrich")
    assert status.text.startswith("Enrichment is on: People Data Labs, key …-key, last run")
    assert "Cached answers:" in status.text

    again = await world.say(chat, admin, "/enrich run")
    assert again.text == "Enriching in the background; I will post here when done."
    await world.next_message(
        chat, lambda m: m.message_id > again.message_id and "done" in (m.text or "")
    )

    off = await world.say(chat, admin, "/enrich off")
    assert off.text.startswith("Enrichment off.")
    assert not await automations.schedule_exists(enrich_schedule_id(calendar.org_id))
    refused = await world.say(chat, admin, "/enrich run")
    assert refused.text.startswith("Enrichment is off.")

    for message in world.tg.messages(chat):
        if message.from_bot:
            assert fake.api_key not in (message.text or "")
    async with sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.org_id == calendar.org_id)
            )
        ).all()
    assert {"enrich_on", "enrich_off"} <= set(actions)


async def test_refusals_change_nothing(enriching, sessions) -> None:
    world, fake, _ = enriching
    calendar, chat, admin = await world.linked_group()
    member = world.person()

    said = world.tg.user_says(chat, member, "/enrich on pdl member-secret-9999")
    reply = await world.tg.wait_for_reply(chat)
    assert world.tg.was_deleted(chat, said["message"]["message_id"])
    assert "admin" in reply.text.lower()

    unknown = await world.say(chat, admin, "/enrich on clearbit some-key-0000")
    assert unknown.text.startswith("I do not know the provider “clearbit”")
    usage = await world.say(chat, admin, "/enrich sideways")
    assert usage.text.startswith("Use /enrich on pdl|apollo")
    no_provider = await world.say(chat, admin, "/enrich on")
    assert no_provider.text.startswith("No provider is set yet.")
    status = await world.say(chat, admin, "/enrich")
    assert status.text.startswith("Enrichment is off (no provider set).")

    async with sessions() as session:
        assert await session.get(OrgEnrichment, calendar.org_id) is None
    assert fake.calls == []
