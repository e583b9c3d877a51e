"""/sync, /jobs, /digest and /status, and the command menu."""

from __future__ import annotations

import logging

from core import defaults
from store.models import AutomationSettings, Organization
from tests.conftest import eventually
from workflows import ids


async def test_sync_reports_what_it_did_and_jobs_link_to_the_portal(world) -> None:
    calendar, chat, _admin = await world.linked_group()
    member = world.person()

    started = await world.say(chat, member, "/sync")  # reading: members may sync
    assert started.text == "Syncing with Luma…"
    done = await world.next_message(chat, lambda m: m.message_id == started.message_id)
    assert done.text.startswith("Synced with Luma: 5 events, ")

    async def sync_listed() -> bool:
        jobs = await world.deps.automations.list_jobs(calendar.org_id)
        return any(job.kind == "sync" for job in jobs)

    await eventually(sync_listed, timeout=10)
    jobs = await world.say(chat, member, "/jobs")
    assert (
        jobs.text.startswith("Jobs (running first)") and "Guest-list sync · completed" in jobs.text
    )
    assert ids.sync_id(calendar.org_id) not in jobs.text  # words, not a workflow id
    links = [e["url"] for e in jobs.entities if e["type"] == "text_link"]
    # The portal's job page, never the Temporal UI (it shows every tenant's runs).
    portal = world.deps.automations.job_url("")
    assert portal.endswith("/web/jobs/")
    assert links and all(url.startswith(portal) for url in links)
    assert not any(url.startswith(defaults.TEMPORAL_UI_URL) for url in links)


async def test_digest_on_off_and_now(world) -> None:
    calendar, chat, admin = await world.linked_group()
    automations = world.deps.automations
    schedule = ids.digest_schedule_id(chat)

    reply = await world.say(chat, admin, "/digest on 08:30 Europe/Lisbon")
    assert reply.text == "Daily digest on: every day at 08:30 (Europe/Lisbon)."
    assert await automations.schedule_exists(schedule)
    async with world.deps.sessions() as session:
        settings = await session.get(AutomationSettings, chat)
        assert (settings.digest_enabled, settings.digest_time) == (True, "08:30")
    state = await world.say(chat, admin, "/digest")
    assert state.text.startswith("Daily digest: every day at 08:30 (Europe/Lisbon).")

    now = await world.say(chat, admin, "/digest now")
    assert now.text.startswith("Preparing your digest")
    digest = await world.tg.wait_for_reply(chat)
    assert digest.text.startswith("☀️ Daily digest")

    assert (await world.say(chat, admin, "/digest off")).text == "Daily digest off for this chat."
    assert not await automations.schedule_exists(schedule)
    entries = await world.audit(calendar.org_id)
    assert [e.action for e in entries if e.action.startswith("digest")] == [
        "digest_on",
        "digest_off",
    ]


async def test_status_names_the_calendar_cache_jobs_and_role(world) -> None:
    calendar, chat, admin = await world.linked_group()
    member = world.person()

    status = await world.say(chat, admin, "/status")
    lines = status.text.splitlines()
    async with world.deps.sessions() as session:
        org = await session.get(Organization, calendar.org_id)
    assert lines[0] == f"Linked to {calendar.name} (key {org.key_fingerprint})."
    assert lines[1].startswith("Cache: 5 events, last synced ")
    assert lines[3] == "Daily digest: off."
    assert lines[4] == "Your role here: admin."
    assert lines[5] == "Plan: Team (billing off on this install)."  # then today's usage
    assert "\nYour role here: member.\n" in (await world.say(chat, member, "/status")).text
    unlinked = world.group(admin=admin)
    assert "not linked to a Luma calendar yet" in (await world.say(unlinked, admin, "/status")).text


async def test_the_command_menu_is_registered_and_optional(bot_with, caplog) -> None:
    async with bot_with() as world:
        user = world.person()
        await world.say(user, user, "/help")  # answered: the startup hooks have run
        commands = world.tg.calls("setMyCommands")[-1].params["commands"]
        assert {"events", "approve", "bulk", "digest", "cancel"} <= {c["command"] for c in commands}
    world.tg.unsupported.add("setMyCommands")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.app"):
            async with bot_with() as world:
                reply = await world.say(user, user, "/help")
                await eventually(lambda: "could not register the command menu" in caplog.text)
                world.tg.unsupported.discard("setMyCommands")
                # Tried again with backoff, while the bot answers: taken once Telegram agrees.
                await eventually(
                    lambda: world.tg.calls("setMyCommands")[-1].error is None, timeout=30
                )
                assert (await world.say(user, user, "/help")).text.startswith("What I can do")
    finally:
        world.tg.unsupported.discard("setMyCommands")
    assert reply.text.startswith("What I can do")
