"""Conversation context through the local Bot API: follow-ups, a write by reference, expiry,
and whose context it is (this person, this chat, this org)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from store.models import ChatContext


async def _backdate(world, chat: int, user: int, minutes: float) -> None:
    """Age the person's remembered turn in this chat, as the clock would."""
    async with world.deps.sessions.begin() as session:
        rows = await session.scalars(
            select(ChatContext).where(ChatContext.chat_id == chat, ChatContext.user_id == user)
        )
        for row in rows:
            row.updated_at -= timedelta(minutes=minutes)


async def _contexts(world, org_id: int) -> list[ChatContext]:
    async with world.deps.sessions() as session:
        return list(
            (await session.scalars(select(ChatContext).where(ChatContext.org_id == org_id))).all()
        )


async def test_a_ten_turn_conversation_with_follow_ups_and_a_write_by_reference(world) -> None:
    calendar, _group, admin = await world.linked_group()
    await world.link(calendar, admin, admin)  # the admin's DM works with the same calendar
    conference = Counter(g.approval_status for g in world.guests(calendar, "Main Conference 2026"))
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    dinner_total = len(world.guests(calendar, "Founders Dinner"))

    async def say(text: str):
        return await world.say(admin, admin, text)

    # 1-2: a list of events, then another city for the same question.
    assert (await say("show me events in Dubai")).text.splitlines()[0] == "Events in Dubai (1)"
    assert (await say("what about lisbon?")).text.splitlines()[0] == "Events in Lisbon (3)"
    # 3-6: a count, then the same count by another status, another event, another status.
    count = await say("how many guests are pending for the main conference?")
    assert count.text == (f"Main Conference 2026: {conference['pending_approval']} pending guests.")
    waitlisted = await say("and the waitlisted ones?")
    assert waitlisted.text.startswith(f"Main Conference 2026: {conference['waitlist']} wait")
    dinner = await say("and for the founders dinner?")
    assert dinner.text.startswith("Founders Dinner: 0 wait")
    dinner_pending = await say("and the pending ones?")
    assert dinner_pending.text == f"Founders Dinner: {len(pending)} pending guests."
    # 7: the same guests, listed.
    listed = await say("list them")
    assert listed.text.splitlines()[0] == f"Founders Dinner: {len(pending)} pending guests"
    assert all(g.person.email in listed.text for g in pending)
    # 8: exported.
    world.tg.user_says(admin, admin, "export that")
    exported = await world.tg.wait_for_reply(admin)
    assert exported.document is not None
    rows = list(csv.DictReader(io.StringIO(exported.document.data.decode())))
    assert {r["email"] for r in rows} == {g.person.email for g in pending}
    # 9: a write by reference: the same preview as by name, the event and filter spelled out.
    preview = await say("approve them")
    assert preview.text.startswith(f"Approve {len(pending)} guest(s) of Founders Dinner (pending)?")
    assert [b["text"] for b in preview.buttons] == ["Confirm", "Cancel"]
    assert not world.writes(calendar)  # nothing before Confirm
    await world.press(admin, admin, preview, "Confirm")
    await world.next_message(admin, lambda m: "Bulk job finished" in m.text, timeout=30)
    written = Counter(w.guest_id for w in world.writes(calendar))
    assert set(written) == {g.id for g in pending} and set(written.values()) == {1}
    assert {w.new_status for w in world.writes(calendar)} == {"approved"}
    # 10: a follow-up after the write: the same event, another status.
    approved = await say("and how many are approved?")
    assert approved.text == f"Founders Dinner: {dinner_total} approved guests."
    [context] = await _contexts(world, calendar.org_id)
    assert (context.chat_id, context.user_id, context.intent) == (admin, admin, "count_guests")
    assert context.result == {
        "event_id": calendar.events["Founders Dinner"],
        "statuses": ["approved"],
        "domains": [],
        "tags": [],
    }
    assert "@" not in str(context.slots) + str(context.result)  # no guest's data is kept


async def test_an_expired_context_makes_the_bot_ask_instead_of_guessing(world) -> None:
    calendar, _group, admin = await world.linked_group()
    await world.link(calendar, admin, admin)
    await world.say(admin, admin, "how many guests are pending for the founders dinner?")
    minutes = world.deps.settings.context_minutes
    await _backdate(world, admin, admin, minutes + 1)

    asked = await world.say(admin, admin, "approve them")
    assert asked.text.startswith("Approve whom? I have no earlier answer of yours to refer to")
    assert "Name the event and who" in asked.text and not asked.buttons
    which = await world.say(admin, admin, "and the waitlisted ones?")
    assert which.text.startswith("Which event and which guests?")
    # Just within the time it is still remembered.
    await world.say(admin, admin, "how many guests are pending for the founders dinner?")
    await _backdate(world, admin, admin, minutes - 1)
    preview = await world.say(admin, admin, "approve them")
    assert preview.text.startswith("Approve 6 guest(s) of Founders Dinner (pending)?")
    assert not world.writes(calendar)


async def test_another_person_in_the_group_does_not_inherit_my_context(world) -> None:
    calendar, group, admin = await world.linked_group()
    colleague = world.person()
    world.tg.set_member_status(group, colleague, "administrator")
    await world.member(calendar, colleague)
    bot = f"@{(await world.services.bot.me()).username}"

    await world.say(group, admin, f"{bot} how many are pending for the founders dinner?")
    theirs = await world.say(group, colleague, f"{bot} approve them")
    assert theirs.text.startswith("Approve whom?") and not theirs.buttons
    mine = await world.say(group, admin, f"{bot} approve them")
    assert mine.text.startswith("Approve 6 guest(s) of Founders Dinner (pending)?")
    assert not world.writes(calendar)


async def test_another_org_never_sees_the_context(world) -> None:
    first, group, admin = await world.linked_group()
    bot = f"@{(await world.services.bot.me()).username}"
    await world.say(group, admin, f"{bot} how many are pending for the founders dinner?")
    assert len(await _contexts(world, first.org_id)) == 1
    second = await world.calendar()
    await world.link(second, group, admin)  # the same chat, now another calendar's

    asked = await world.say(group, admin, f"{bot} approve them")
    assert asked.text.startswith("Approve whom?") and not asked.buttons
    assert not await _contexts(world, second.org_id)
    assert not world.writes(first) and not world.writes(second)


async def test_a_removed_member_has_no_context_left(world) -> None:
    calendar, group, _admin = await world.linked_group()
    member = world.person()
    world.tg.set_member_status(group, member, "administrator")
    await world.member(calendar, member)
    bot = f"@{(await world.services.bot.me()).username}"
    await world.say(group, member, f"{bot} how many are pending for the founders dinner?")
    await world.remove(calendar, member)

    asked = await world.say(group, member, f"{bot} approve them")
    assert asked.text.startswith("Approve whom?")
    assert not world.writes(calendar)


async def test_commands_are_remembered_too_and_a_city_offers_its_events(world) -> None:
    calendar, _group, admin = await world.linked_group()
    await world.link(calendar, admin, admin)
    await world.say(admin, admin, "/pending founders dinner")
    count = await world.say(admin, admin, "how many of them?")
    pending = len(world.guests(calendar, "Founders Dinner", "pending_approval"))
    assert count.text == f"Founders Dinner: {pending} pending guests."
    question = await world.say(admin, admin, "what about lisbon?")
    assert question.text == "Which event in Lisbon?"
    assert len(question.buttons) == 3
    chosen = await world.press(admin, admin, question, question.buttons[0]["text"])
    assert chosen.text.startswith("Event: ")


async def test_deleting_the_org_deletes_its_context(world) -> None:
    calendar, group, admin = await world.linked_group()
    await world.link(calendar, admin, admin)
    await world.say(admin, admin, "how many are pending for the founders dinner?")
    assert len(await _contexts(world, calendar.org_id)) == 1
    for chat in (group, admin):
        ask = await world.say(chat, admin, "/unlink")
        await world.press(chat, admin, ask, "Unlink")
    done = await world.say(admin, admin, f"/forget {calendar.name}")
    assert done.text.startswith(f"Deleted {calendar.name}")
    assert not await _contexts(world, calendar.org_id)
