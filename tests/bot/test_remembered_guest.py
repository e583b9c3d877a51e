"""A remembered guest through the local Bot API: after a `/find` answer about one person,
"approve her" is the one-guest change of that person (the same preview and Confirm as naming
their email), written to Luma once; with nobody remembered the bot asks; the person's email
in the turn goes with a stale turn, with the org, and on request (`forget_guest`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from standins.luma.model import WriteRecord
from store import conversation
from store.models import ChatContext, Role


async def _calendar_with(world, people: dict[str, list[str]]):
    """A calendar whose events also hold `people` (name -> events), each under a new email."""
    calendar = await world.calendar(sync=False)
    state = world.sim.state
    luma_calendar = state.calendar(calendar.calendar_id)
    emails = {}
    for name, events in people.items():
        email = f"{name.split()[0].lower()}.{uuid.uuid4().hex[:8]}@example.com"
        emails[name] = email
        for event_name in events:
            event = state.event(calendar.events[event_name])
            state.add_guests(
                luma_calendar, event, [(email, name)], status="pending_approval", path="test"
            )
    await (await world.deps.automations.sync_now(calendar.org_id)).result()
    admin = world.person()
    await world.member(calendar, admin, Role.ADMIN)
    await world.link(calendar, admin, admin)
    return calendar, admin, emails


def _status_writes(world, calendar) -> list[WriteRecord]:
    return [w for w in world.writes(calendar) if w.endpoint == "update-guest-status"]


async def _turn(world, chat: int, user: int) -> ChatContext | None:
    async with world.deps.sessions() as session:
        return await session.scalar(
            select(ChatContext).where(ChatContext.chat_id == chat, ChatContext.user_id == user)
        )


async def test_find_then_approve_her_previews_and_writes_that_one_guest_once(world) -> None:
    calendar, admin, emails = await _calendar_with(world, {"Adaline Quixote": ["Founders Dinner"]})
    email = emails["Adaline Quixote"]

    found = await world.say(admin, admin, "find adaline")
    assert found.text.splitlines()[0] == f"Adaline Quixote — {email}"
    turn = await _turn(world, admin, admin)
    assert turn is not None and turn.intent == "find_guest"
    assert turn.slots["email"] == email and turn.slots["event"] == "Founders Dinner"

    preview = await world.say(admin, admin, "approve her")
    # Exactly the preview of "/approve <email> Founders Dinner".
    assert preview.text == (
        f"Approve this guest for Founders Dinner?\n• Adaline Quixote — {email} · pending"
    )
    assert [b["text"] for b in preview.buttons] == ["Confirm", "Cancel"]
    assert not _status_writes(world, calendar)  # nothing before Confirm
    await world.press(admin, admin, preview, "Confirm")
    done = await world.next_message(admin, lambda m: m.text.startswith("Approved"))
    assert done.text == f"Approved Adaline Quixote ({email}) for Founders Dinner."
    [write] = _status_writes(world, calendar)
    assert (write.email, write.new_status) == (email, "approved")
    assert write.event_id == calendar.events["Founders Dinner"]


async def test_a_guest_of_several_events_is_asked_about_which_one(world) -> None:
    calendar, admin, emails = await _calendar_with(
        world, {"Bartholomew Quince": ["Founders Dinner", "Main Conference 2026"]}
    )
    email = emails["Bartholomew Quince"]
    await world.say(admin, admin, f"/find {email}")
    turn = await _turn(world, admin, admin)
    assert turn is not None and turn.slots == {"email": email}  # no one event to keep

    asked = await world.say(admin, admin, "decline him")
    assert asked.text.startswith(f"{email} registered for several events: which one?")
    labels = " ".join(b["text"] for b in asked.buttons)
    assert "Founders Dinner" in labels and "Main Conference 2026" in labels
    named = await world.say(admin, admin, "decline him for the main conference")
    assert named.text.startswith("Decline this guest for Main Conference 2026?")
    assert email in named.text
    assert not _status_writes(world, calendar)


async def test_approve_her_with_no_one_remembered_asks(world) -> None:
    calendar, admin, emails = await _calendar_with(world, {"Adaline Quixote": ["Founders Dinner"]})

    asked = await world.say(admin, admin, "approve her")
    assert asked.text.startswith("Approve whom? I have no earlier answer of yours to refer to")
    assert not asked.buttons
    # After a list of several guests "her" is nobody in particular: asked too.
    await world.say(admin, admin, "who is pending for the founders dinner?")
    again = await world.say(admin, admin, "approve her")
    assert again.text.startswith("Approve whom?") and not again.buttons
    # A find that matched one person, then expired: asked.
    await world.say(admin, admin, "find adaline")
    async with world.deps.sessions.begin() as session:
        row = await session.scalar(select(ChatContext).where(ChatContext.chat_id == admin))
        assert row is not None
        row.updated_at -= timedelta(minutes=world.deps.settings.context_minutes + 1)
    late = await world.say(admin, admin, "approve her")
    assert late.text.startswith("Approve whom?") and not late.buttons
    assert emails and not _status_writes(world, calendar)


async def test_a_remembered_email_is_erased_on_request_when_stale_and_with_the_org(world) -> None:
    calendar, admin, emails = await _calendar_with(world, {"Adaline Quixote": ["Founders Dinner"]})
    email = emails["Adaline Quixote"]
    colleague = world.person()
    await world.member(calendar, colleague)
    await world.link(calendar, colleague, admin)
    await world.say(admin, admin, "find adaline")
    await world.say(colleague, colleague, f"/find {email.upper()}")

    # Erasure on request: every turn naming the address, whatever its case.
    async with world.deps.sessions.begin() as session:
        erased = await conversation.forget_guest(
            session, org_id=calendar.org_id, email=email.upper()
        )
    assert erased == 2
    assert await _turn(world, admin, admin) is None
    assert await _turn(world, colleague, colleague) is None

    # A stale turn about a person goes at the org's next /find, whoever asks.
    await world.say(admin, admin, "find adaline")
    async with world.deps.sessions.begin() as session:
        row = await session.scalar(select(ChatContext).where(ChatContext.chat_id == admin))
        assert row is not None
        row.updated_at -= timedelta(minutes=world.deps.settings.context_minutes + 1)
    await world.say(colleague, colleague, f"/find {email}")
    assert await _turn(world, admin, admin) is None
    kept = await _turn(world, colleague, colleague)
    assert kept is not None and kept.slots["email"] == email

    # And the org's deletion takes the rest.
    done = await world.say(admin, admin, f"/forget {calendar.name}")
    assert done.text.startswith(f"Deleted {calendar.name}")
    async with world.deps.sessions() as session:
        left = await session.scalars(
            select(ChatContext.id).where(ChatContext.org_id == calendar.org_id)
        )
        assert not left.all()


async def test_a_person_found_privately_from_a_public_group_is_not_named_there(world) -> None:
    calendar, admin, emails = await _calendar_with(world, {"Adaline Quixote": ["Founders Dinner"]})
    email = emails["Adaline Quixote"]
    group = world.group(admin=admin)
    await world.link(calendar, group, admin)
    world.tg.chat(group).username = "our_public_group"
    bot = f"@{(await world.services.bot.me()).username}"
    await world.say(admin, admin, "/start")

    await world.say(group, admin, f"{bot} find adaline")
    answer = await world.next_message(admin, lambda m: email in (m.text or ""))
    assert answer.text.startswith("Adaline Quixote")
    asked = await world.say(group, admin, f"{bot} approve her")
    assert asked.text.startswith("Approve whom?") and not asked.buttons
    assert all(email not in (m.text or "") for m in world.tg.messages(group))
    assert not _status_writes(world, calendar)
