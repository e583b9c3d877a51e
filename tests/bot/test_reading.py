"""Reading the calendar: events, summaries, guest pages, people, CSV, freshness, plain language."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from store.models import Event, utcnow


def _requests(world, calendar) -> int:
    return world.sim.state.requests[calendar.calendar_id]


async def _synced_at(world, calendar, name: str):
    async with world.deps.sessions() as session:
        return await session.scalar(
            select(Event.guests_synced_at).where(
                Event.org_id == calendar.org_id, Event.luma_event_id == calendar.events[name]
            )
        )


async def test_events_by_default_upcoming_then_past_city_and_month(world) -> None:
    _calendar, chat, admin = await world.linked_group()

    upcoming = await world.say(chat, admin, "/events")
    assert upcoming.text.splitlines()[0] == "Upcoming events (4)"
    assert upcoming.text.index("Founders Dinner") < upcoming.text.index("Lisbon Meetup")
    assert "Winter Gala" not in upcoming.text
    past = await world.say(chat, admin, "/events past")
    assert past.text.splitlines()[0] == "Past events (1)" and "Winter Gala" in past.text
    lisbon = await world.say(chat, admin, "/events lisbon")
    assert lisbon.text.splitlines()[0] == "Events in lisbon (3)"
    assert (await world.say(chat, admin, "/events tokyo")).text == "Events in tokyo: none."
    assert "is not a month" in (await world.say(chat, admin, "/events 2026-13")).text
    assert (await world.say(chat, admin, "/events all")).text.startswith("Events (5)")


async def test_event_summary_from_a_fuzzy_name_answered_from_the_cache(world) -> None:
    calendar, chat, admin = await world.linked_group()
    synced = await _synced_at(world, calendar, "Main Conference 2026")

    reply = await world.say(chat, admin, "/event the main conference")

    assert reply.text.splitlines()[0] == "Main Conference 2026"
    assert "Registered: 40 (approved 12, pending 20, waitlist 4, declined 4)" in reply.text
    assert "Checked in: 0 of 12 approved" in reply.text
    # Fresh cache: answered as it was, no refresh through Luma.
    assert await _synced_at(world, calendar, "Main Conference 2026") == synced
    missing = await world.say(chat, admin, "/event Nonexistent Party")
    assert missing.text == (
        "I could not find an event called “Nonexistent Party”. /events lists the ones I know."
    )


async def test_ambiguous_names_offer_buttons_and_the_choice_runs_the_command(world) -> None:
    _calendar, chat, admin = await world.linked_group()

    question = await world.say(chat, admin, "/guests lisbon")
    assert question.text == "Which event do you mean?"
    labels = [button["text"] for button in question.buttons]
    assert [label.split(" · ")[0] for label in labels] == ["Lisbon Workshop", "Lisbon Meetup"]

    chosen = await world.press(chat, admin, question, labels[1])
    assert chosen.text == "Event: Lisbon Meetup" and chosen.message_id == question.message_id
    answer = await world.tg.wait_for_reply(chat)
    assert answer.text.startswith("Lisbon Meetup: 8 guests")


async def test_long_guest_lists_come_in_pages_with_more(world) -> None:
    _calendar, chat, admin = await world.linked_group()

    first = await world.say(chat, admin, "/guests Main Conference 2026")
    assert first.text.splitlines()[0] == "Main Conference 2026: 40 guests"
    assert len(first.text.splitlines()) == 21 and [b["text"] for b in first.buttons] == ["More"]
    second = await world.press(chat, admin, first, "More")
    assert second.message_id == first.message_id and second.reply_markup is None
    page_two = await world.tg.wait_for_reply(chat)
    assert page_two.text.splitlines()[0] == "Main Conference 2026: 40 guests, from #21"
    assert len(page_two.text.splitlines()) == 21 and not page_two.buttons
    names = first.text.splitlines()[1:] + page_two.text.splitlines()[1:]
    assert len(set(names)) == 40


async def test_pending_filters_and_domains(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")

    reply = await world.say(chat, admin, "/pending founders dinner")
    assert reply.text.splitlines()[0] == f"Founders Dinner: {len(pending)} pending guests"
    assert all(g.person.email in reply.text for g in pending)

    domain = pending[0].person.email.split("@")[1]
    same = [g for g in world.guests(calendar, "Founders Dinner") if g.person.email.endswith(domain)]
    reply = await world.say(chat, admin, f"/guests Founders Dinner @{domain}")
    assert (
        reply.text.splitlines()[0]
        == f"Founders Dinner: {len(same)} guest{'s' * (len(same) != 1)} from @{domain}"
    )
    none = await world.say(chat, admin, "/guests Founders Dinner waitlist")
    assert none.text == "Founders Dinner: 0 waitlist guests."


async def test_find_shows_a_persons_history_across_events(world) -> None:
    calendar, chat, admin = await world.linked_group()
    guest = world.guests(calendar, "Founders Dinner", "pending_approval")[0]
    email = guest.person.email
    events = [
        name
        for name, event_id in calendar.events.items()
        if email in world.sim.state.event(event_id).by_email
    ]

    reply = await world.say(chat, admin, f"/find {email.upper()}")
    assert reply.text.splitlines()[0] == f"{guest.person.name} — {email}"
    registrations = [line for line in reply.text.splitlines()[1:] if line.startswith("• ")]
    assert sorted(line.split(" (")[0][2:] for line in registrations) == sorted(events)
    by_name = await world.say(chat, admin, f"/find {guest.person.name}")
    assert email in by_name.text
    nobody = await world.say(chat, admin, "/find nobody@nowhere.example")
    assert (
        nobody.text
        == "I found no guest matching “nobody@nowhere.example” in this calendar's events."
    )


async def test_export_sends_a_csv_document(world) -> None:
    calendar, chat, admin = await world.linked_group()
    approved = world.guests(calendar, "Main Conference 2026", "approved")

    world.tg.user_says(chat, admin, "/export main conference approved")
    sent = await world.tg.wait_for_reply(chat)

    assert sent.document is not None and sent.document.filename == "main-conference-2026.csv"
    rows = list(csv.DictReader(io.StringIO(sent.document.data.decode())))
    assert len(rows) == len(approved) and {r["approval_status"] for r in rows} == {"approved"}
    assert {r["email"] for r in rows} == {g.person.email for g in approved}
    assert sent.caption == f"Main Conference 2026: {len(approved)} approved guests"


async def test_stale_events_are_refreshed_from_luma_before_answering(world) -> None:
    calendar, chat, admin = await world.linked_group()
    event_id = calendar.events["Founders Dinner"]
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    pending[0].approval_status = "approved"  # changed in Luma behind the cache's back
    async with world.deps.sessions.begin() as session:
        await session.execute(
            update(Event)
            .where(Event.org_id == calendar.org_id, Event.luma_event_id == event_id)
            .values(guests_synced_at=utcnow() - timedelta(hours=1))
        )
    before = _requests(world, calendar)

    reply = await world.say(chat, admin, "/pending Founders Dinner")

    assert reply.text.splitlines()[0] == f"Founders Dinner: {len(pending) - 1} pending guests"
    assert _requests(world, calendar) > before


async def test_slow_luma_answers_from_the_cache_with_a_note(bot_with) -> None:
    async with bot_with(refresh_timeout=0.05) as world:
        calendar, chat, admin = await world.linked_group()
        async with world.deps.sessions.begin() as session:
            await session.execute(
                update(Event).where(Event.org_id == calendar.org_id).values(guests_synced_at=None)
            )
        world.sim.state.configure(latency_seconds=0.5)
        try:
            reply = await world.say(chat, admin, "/event founders dinner")
        finally:
            world.sim.state.configure(latency_seconds=0.0)
    assert reply.text.splitlines()[0] == "Founders Dinner"
    assert (
        reply.text.splitlines()[-1]
        == "Luma did not answer in time, so this may be a little out of date."
    )


async def test_plain_language_questions_reach_the_same_answers(world) -> None:
    calendar, _chat, _admin = await world.linked_group()
    user = world.person()
    await world.link(calendar, user, user)
    statuses = Counter(g.approval_status for g in world.guests(calendar, "Founders Dinner"))

    count = await world.say(user, user, "How many guests are pending for the founders dinner?")
    assert count.text == f"Founders Dinner: {statuses['pending_approval']} pending guests."
    listing = await world.say(user, user, "Show me events in Lisbon")
    assert listing.text.splitlines()[0] == "Events in Lisbon (3)"
    summary = await world.say(user, user, "What's the attendance status for the main conference?")
    assert summary.text.splitlines()[0] == "Main Conference 2026"
    helped = await world.say(user, user, "hi")
    assert helped.text.startswith("What I can do")
    assert "did not understand" in (await world.say(user, user, "qwzx plorb")).text
    # Another language: the offline parser does not guess from the email; the commands work,
    # and "not understood" is said in the message's language.
    spanish = await world.say(user, user, "rechaza a juan@acme.com para la cena de fundadores")
    assert "no lo he entendido" in spanish.text and "/decline" in spanish.text


async def test_in_groups_plain_text_needs_a_mention_or_a_reply(world) -> None:
    _calendar, chat, admin = await world.linked_group()
    username = (await world.services.bot.me()).username

    world.tg.user_says(chat, admin, "how many pending for the founders dinner?")  # chatter
    mentioned = await world.say(chat, admin, f"@{username} how many pending for founders dinner?")
    assert mentioned.text.startswith("Founders Dinner: ")
    replied_to = world.tg.user_says(
        chat, admin, "and the main conference?", reply_to=mentioned.message_id
    )
    answer = await world.tg.wait_for_reply(chat)
    assert answer.text.startswith("Main Conference 2026")
    assert replied_to["message"]["message_id"] == answer.message_id - 1
    # The chatter got no answer: every bot message answers one of the two addressed texts.
    assert len(world.tg.messages(chat)) == 2
    assert (
        "do not know that command" in (await world.say(chat, admin, f"/frobnicate@{username}")).text
    )
