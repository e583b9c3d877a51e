"""An organizer's whole approval-policy journey from the chat alone: write a policy in plain
words, dry-run it, turn it on, watch a registration decided and reported, and see a freed
seat go to the waitlist."""

from __future__ import annotations

from collections import Counter

from tests.conftest import eventually


async def test_from_the_bot_alone(world) -> None:
    calendar, chat, admin = await world.linked_group()
    username = (await world.services.bot.me()).username
    event_id = calendar.events["Founders Dinner"]
    state = world.sim.state
    event = state.event(event_id)
    luma_calendar = state.calendar(calendar.calendar_id)

    preview = await world.say(
        chat, admin, f"@{username} auto-approve everyone from acme.com for the founders dinner"
    )
    assert preview.text.splitlines()[1] == "1. approve email at acme.com"
    tested = await world.say(chat, admin, "/policy test Founders Dinner")
    assert tested.text.startswith("Policy test for Founders Dinner")  # still off: nothing yet
    assert "Nothing was written (mode: off)." in tested.text
    done = await world.press(chat, admin, preview, "Confirm")
    assert "auto: approvals and waitlisting are written" in done.text

    state.add_guests(luma_calendar, event, [("ada@acme.com", "Ada")], status="pending_approval",
                     path="test")  # fmt: skip
    await world.deps.automations.registration_arrived(
        calendar.org_id, event_id, event.by_email["ada@acme.com"].id
    )
    report = await world.next_message(chat, lambda m: "approval policy:" in m.text, timeout=60)
    assert report.text == (
        "Founders Dinner — approval policy: approved 1 (rule 1: approve email at acme.com)."
    )
    assert event.by_email["ada@acme.com"].approval_status == "approved"

    # One seat more than the approved guests take: the first on the waitlist gets it.
    state.add_guests(luma_calendar, event, [("wendy@wait.example", "Wendy")], status="waitlist",
                     path="test")  # fmt: skip
    approved = sum(1 for g in event.guests.values() if g.approval_status == "approved")
    waiting = sum(1 for g in event.guests.values() if g.approval_status == "waitlist")
    capacity = await world.say(chat, admin, f"/policy capacity Founders Dinner {approved + 1}")
    assert capacity.text.startswith("Capacity set.")
    promoted = await world.next_message(chat, lambda m: "off the" in m.text, timeout=60)
    assert "a seat freed, so 1 guest(s) came off the waitlist (first come" in promoted.text

    async def one_promoted() -> bool:
        statuses = Counter(g.approval_status for g in event.guests.values())
        return statuses["approved"] == approved + 1 and statuses["waitlist"] == waiting - 1

    await eventually(one_promoted, timeout=30, interval=0.1)
    writes = [w for w in world.writes(calendar) if w.endpoint == "update-guest-status"]
    assert Counter(w.new_status for w in writes) == Counter({"approved": 2})  # Ada, then one
