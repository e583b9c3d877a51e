"""A service down when a button is pressed: the chat is told which, and nothing is used up."""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import update
from temporalio.client import Client

from services.automations import Automations
from store.models import Event
from tests.conftest import eventually


async def _temporal_down(world) -> Automations:
    """The product's handle on a Temporal server that does not answer (a closed port)."""
    dead = await Client.connect("127.0.0.1:1", lazy=True)
    return Automations(dead, world.deps.automations.defaults)


async def test_confirm_while_temporal_is_down_is_told_and_works_once_it_is_back(
    bot_with,
) -> None:
    async with bot_with() as world:
        calendar, chat, admin = await world.linked_group()
        down = await _temporal_down(world)
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    email = pending[0].person.email

    async with bot_with(automations=down) as world:
        bulk = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
        pressed = world.press_only(chat, admin, bulk, "Confirm")
        told = await world.next_message(
            chat, lambda m: m.message_id == bulk.message_id and "Temporal" in m.text
        )
        single = await world.say(chat, admin, f"/approve {email} Founders Dinner")
        world.press_only(chat, admin, single, "Confirm")
        told_single = await world.next_message(
            chat, lambda m: m.message_id == single.message_id and "Temporal" in m.text
        )
    # The press was answered once, and its question is back with its buttons and the reason.
    assert world.tg.callback_answer(pressed) == {}
    assert told.text == (
        f"{bulk.text}\n\nThe automation service (Temporal) is not answering right now, so "
        "nothing was changed. Press the button again once it is back."
    )
    assert told.buttons == bulk.buttons and told_single.buttons == single.buttons
    assert told_single.text.startswith(single.text)
    assert not world.writes(calendar)

    async with bot_with() as world:  # Temporal is back: the same buttons work
        started = await world.press(chat, admin, told, "Confirm")
        assert started.text.startswith("Approving guests of Founders Dinner")
        await world.next_message(chat, lambda m: "Bulk job finished" in m.text, timeout=30)
        await world.press(chat, admin, told_single, "Confirm")
    assert {w.email for w in world.writes(calendar)} == {g.person.email for g in pending}
    assert len(world.writes(calendar)) == len(pending)


async def test_pause_while_temporal_is_down_is_answered(bot_with) -> None:
    async with bot_with() as world:
        _calendar, chat, admin = await world.linked_group()
        down = await _temporal_down(world)
        preview = await world.say(chat, admin, "/bulk approve Main Conference pending")
        world.sim.state.configure(latency_seconds=0.25)
        try:
            await world.press(chat, admin, preview, "Confirm")
            live = await world.next_message(
                chat, lambda m: "Pause" in [b["text"] for b in m.buttons]
            )
        finally:
            world.sim.state.configure(latency_seconds=0.0)
    async with bot_with(automations=down) as world:
        pressed = world.press_only(chat, admin, live, "Pause")
        answer = await eventually(lambda: world.tg.callback_answer(pressed), timeout=30)
    assert answer == {
        "text": "The automation service (Temporal) is not answering right now; nothing was "
        "changed.",
        "show_alert": True,
    }


async def test_a_failure_after_the_press_was_answered_is_told_in_a_message(world) -> None:
    _calendar, chat, admin = await world.linked_group()
    preview = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    world.tg.unsupported.add("editMessageText")  # answering the press works, editing fails
    try:
        pressed = world.press_only(chat, admin, preview, "Cancel")
        told = await world.next_message(chat, lambda m: m.message_id > preview.message_id)
    finally:
        world.tg.unsupported.discard("editMessageText")
    assert world.tg.callback_answer(pressed) == {"text": "Cancelled"}
    assert told.text.startswith("Something went wrong on my side")


async def _stale(world, calendar) -> None:
    """Every event of the calendar needs a refresh before it is answered."""
    async with world.deps.sessions.begin() as session:
        await session.execute(
            update(Event).where(Event.org_id == calendar.org_id).values(guests_synced_at=None)
        )


async def test_a_preview_names_the_service_that_is_down(bot_with) -> None:
    async with bot_with() as world:
        calendar, chat, admin = await world.linked_group()
        down = await _temporal_down(world)
        no_worker = Automations(
            world.deps.automations.client,
            replace(world.deps.automations.defaults, task_queue=f"none-{uuid.uuid4().hex}"),
        )
    await _stale(world, calendar)
    async with bot_with(automations=down) as world:
        outage = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    assert outage.text.startswith("Approve 6 guest(s) of Founders Dinner (pending)?")
    assert outage.text.splitlines()[-1] == (
        "The automation service (Temporal) is not answering right now, so this comes from my "
        "cache and may be a little out of date."
    )
    async with bot_with(automations=no_worker, refresh_timeout=0.5) as world:
        idle = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    assert idle.text.splitlines()[-1] == (
        "No automation worker is running to refresh from Luma, so this comes from my cache "
        "and may be a little out of date."
    )


async def test_a_restarted_bot_keeps_moving_a_running_jobs_message(bot_with) -> None:
    async with bot_with(progress_interval=0.2) as world:
        calendar, chat, admin = await world.linked_group()
        pending = world.guests(calendar, "Main Conference 2026", "pending_approval")
        preview = await world.say(chat, admin, "/bulk approve main conference pending")
        world.sim.state.configure(latency_seconds=0.25)
        try:
            await world.press(chat, admin, preview, "Confirm")
            live = await world.next_message(
                chat, lambda m: "Pause" in [b["text"] for b in m.buttons]
            )
            await world.press(chat, admin, live, "Pause")  # still running when the bot stops
            await world.next_message(chat, lambda m: "Paused: the guests in flight" in m.text)
        finally:
            world.sim.state.configure(latency_seconds=0.0)
    [started] = await world.audit(calendar.org_id, "bulk_approved_started")
    assert started.target["message_id"] == preview.message_id

    async with bot_with(progress_interval=0.2) as world:  # a new process: nothing in memory
        await world.deps.automations.control_bulk(started.target["job"], "resume")
        final = await world.next_message(
            chat,
            lambda m: m.message_id == preview.message_id and "finished" in m.text,
            timeout=60,
        )
    assert not final.buttons
    assert f"Approved: {len(pending)} of {len(pending)} matching guest(s)." in final.text
