"""An approval policy at work, seen from the chat: the batch message and its review buttons."""

from __future__ import annotations

from collections import Counter

from tests.conftest import eventually


async def test_batch_message_and_approving_the_held_guests(world) -> None:
    calendar, chat, admin = await world.linked_group()
    event_id = calendar.events["Founders Dinner"]
    await world.say(chat, admin, "/policy add Founders Dinner: approve from acme.com")
    moded = await world.say(chat, admin, "/policy mode Founders Dinner auto")
    assert "auto: approvals and waitlisting are written" in moded.text

    state = world.sim.state
    event = state.event(event_id)
    emails = ["ada@acme.com", "xavier@elsewhere.example"]
    state.add_guests(state.calendar(calendar.calendar_id), event, [(e, None) for e in emails],
                     status="pending_approval", path="test")  # fmt: skip
    for email in emails:
        await world.deps.automations.registration_arrived(
            calendar.org_id, event_id, event.by_email[email].id
        )

    report = await world.next_message(chat, lambda m: "approval policy:" in m.text, timeout=60)
    assert report.text == (
        "Founders Dinner — approval policy: approved 1 (rule 1: approve email at acme.com); "
        "holding for review 1 (no rule matched: held for review)."
    )
    assert [b["text"] for b in report.buttons] == [
        "Approve all held",
        "Review one by one",
        "Decline all held",
    ]
    assert event.by_email["ada@acme.com"].approval_status == "approved"

    listed = await world.press(chat, admin, report, "Review one by one")
    assert "Held for review at Founders Dinner: 1" in listed.text
    assert "xavier@elsewhere.example" in listed.text and "no rule matched" in listed.text

    member = world.person()
    refused = await world.press(chat, member, report, "Approve all held")
    assert "can approve or decline guests" in refused.text

    preview = await world.press(chat, admin, report, "Approve all held")
    assert preview.text.startswith("Approve 1 guest(s) of Founders Dinner"), preview.text
    await world.press(chat, admin, preview, "Confirm")

    async def approved() -> bool:
        return event.by_email["xavier@elsewhere.example"].approval_status == "approved"

    await eventually(approved, timeout=30, interval=0.1)
    writes = Counter(w.email for w in world.writes(calendar) if w.endpoint == "update-guest-status")
    assert writes == Counter({"ada@acme.com": 1, "xavier@elsewhere.example": 1})
