"""Events that share a name: reads take the next one and say so; writes ask which one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NAME = "Design Systems Night"


async def _with_a_series(world):
    """A linked group whose calendar has a past (Dubai) and an upcoming (Tokyo) NAME."""
    calendar = await world.calendar(sync=False)
    now = datetime.now(UTC)
    state = world.sim.state
    past = state.add_event(
        calendar.calendar_id,
        name=NAME,
        city="Dubai",
        start_at=now - timedelta(days=60),
        guests=10,
        status_mix={"approved": 1.0},
    )
    upcoming = state.add_event(
        calendar.calendar_id,
        name=NAME,
        city="Tokyo",
        start_at=now + timedelta(days=30),
        guests=6,
        status_mix={"approved": 0.5, "pending_approval": 0.5},
    )
    await (await world.deps.automations.sync_now(calendar.org_id)).result()
    calendar, chat, admin = await world.linked_group(calendar)
    return calendar, chat, admin, past, upcoming


async def test_reads_answer_from_the_next_one_and_name_the_rule(world) -> None:
    _calendar, chat, admin, _past, _upcoming = await _with_a_series(world)

    note = await world.say(chat, admin, f"/event {NAME}")
    assert note.text.startswith(f"{NAME}, Tokyo, ")
    assert note.text.endswith("— the next one; 1 other with this name.")
    summary = await world.tg.wait_for_reply(chat)
    assert summary.text.splitlines()[0] == NAME
    assert "Registered: 6" in summary.text and "Tokyo" in summary.text

    user = world.person()
    await world.link(_calendar, user, user)
    said = await world.say(user, user, "How many guests are approved for design systems night?")
    assert "Tokyo" in said.text and "the next one; 1 other with this name" in said.text
    count = await world.tg.wait_for_reply(user)
    assert count.text == f"{NAME}: 3 approved guests."


async def test_a_single_approval_asks_which_one_and_runs_on_the_choice(world) -> None:
    calendar, chat, admin, _past, upcoming = await _with_a_series(world)
    guest = next(
        g
        for g in world.sim.state.event(upcoming).guests.values()
        if g.approval_status == "pending_approval"
    )

    question = await world.say(chat, admin, f"/approve {guest.person.email} {NAME}")
    assert question.text == f"2 events are called “{NAME}”: which one?"
    labels = [button["text"] for button in question.buttons]
    assert [label.split(" · ")[-1] for label in labels] == ["Tokyo", "Dubai"]  # next one first
    assert not world.writes(calendar)

    chosen = await world.press(chat, admin, question, labels[0])
    assert chosen.text == f"Event: {NAME}"
    preview = await world.tg.wait_for_reply(chat)
    assert preview.text.startswith(f"Approve this guest for {NAME}?")
    assert not world.writes(calendar)  # still only a preview: Confirm starts it


async def test_bulk_on_a_shared_name_starts_nothing_until_one_is_chosen(world) -> None:
    calendar, chat, admin, _past, _upcoming = await _with_a_series(world)

    question = await world.say(chat, admin, f"/bulk approve {NAME} pending")
    assert question.text == f"2 events are called “{NAME}”: which one?"
    assert not world.writes(calendar)
    labels = [button["text"] for button in question.buttons]

    await world.press(chat, admin, question, labels[0])
    preview = await world.tg.wait_for_reply(chat)
    assert preview.text.splitlines()[0] == f"Approve 3 guest(s) of {NAME} (pending)?"
    assert not world.writes(calendar)
