"""Approve and decline, one guest or in bulk: preview, Confirm, the workflow, the report."""

from __future__ import annotations

from collections import Counter

from services.automations import JobInfo
from tests.conftest import eventually


def _status(world, calendar, event: str, email: str) -> str:
    event_id = calendar.events[event]
    return world.sim.state.event(event_id).by_email[email].approval_status


async def test_approve_previews_then_confirm_writes_once(world) -> None:
    calendar, chat, admin = await world.linked_group()
    guest = world.guests(calendar, "Founders Dinner", "pending_approval")[0]
    email = guest.person.email

    preview = await world.say(chat, admin, f"/approve {email} founders dinner")
    assert preview.text == (
        f"Approve this guest for Founders Dinner?\n• {guest.person.name} — {email} · pending"
    )
    assert [b["text"] for b in preview.buttons] == ["Confirm", "Cancel"]
    assert not world.writes(calendar)  # nothing happens before the press

    # Two presses before the bot sees either: only one can take the confirmation.
    first = world.press_only(chat, admin, preview, "Confirm")
    second = world.press_only(chat, admin, preview, "Confirm")
    done = await world.next_message(chat, lambda m: m.text.startswith("Approved"))
    assert done.text == f"Approved {guest.person.name} ({email}) for Founders Dinner."
    answers = [
        await world.tg.wait_until(lambda u=u: world.tg.callback_answer(u), 5)
        for u in (first, second)
    ]
    assert sum("expired or was already used" in (a.get("text") or "") for a in answers) == 1
    assert _status(world, calendar, "Founders Dinner", email) == "approved"
    assert [w.email for w in world.writes(calendar)] == [email]
    [entry] = await world.audit(calendar.org_id, "set_approved")
    assert (entry.source, entry.actor_user_id, entry.chat_id) == ("bot", admin, chat)

    again = await world.say(chat, admin, f"/approve {email} founders dinner")
    assert "is already approved for Founders Dinner; nothing to change." in again.text


async def test_cancel_changes_nothing(world) -> None:
    calendar, chat, admin = await world.linked_group()
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    preview = await world.say(chat, admin, f"/decline {email} Founders Dinner")
    cancelled = await world.press(chat, admin, preview, "Cancel")

    assert cancelled.text == "Cancelled; nothing was changed." and not cancelled.buttons
    assert not world.writes(calendar)


async def test_declining_a_paid_guest_asks_about_the_refund(world) -> None:
    calendar, chat, admin = await world.linked_group()
    event = world.sim.state.event(calendar.events["Main Conference 2026"])
    guest = next(
        g for g in event.guests.values() if g.paid and g.approval_status == "pending_approval"
    )

    preview = await world.say(chat, admin, f"/decline {guest.person.email} main conference")
    assert preview.text.endswith("They paid for a ticket: should it be refunded?")
    assert [b["text"] for b in preview.buttons] == [
        "Decline and refund",
        "Decline, no refund",
        "Cancel",
    ]
    await world.press(chat, admin, preview, "Decline and refund")
    await world.next_message(chat, lambda m: m.text.startswith("Declined"))

    [write] = world.writes(calendar)
    assert (write.new_status, write.should_refund) == ("declined", True)
    assert guest.ticket.refunded


async def test_approve_without_an_event_finds_where_the_guest_registered(world) -> None:
    calendar, chat, admin = await world.linked_group()
    guest = world.guests(calendar, "Main Conference 2026", "waitlist")[0]
    others = [
        name
        for name, event_id in calendar.events.items()
        if guest.person.email in world.sim.state.event(event_id).by_email
    ]

    reply = await world.say(chat, admin, f"/approve {guest.person.email}")

    if len(others) == 1:
        assert reply.text.startswith("Approve this guest for Main Conference 2026?")
    else:
        assert "registered for several events" in reply.text
    unknown = await world.say(chat, admin, "/approve nobody@nowhere.example")
    assert unknown.text.startswith("nobody@nowhere.example is not on any guest list I know.")
    not_there = await world.say(chat, admin, "/approve nobody@nowhere.example Founders Dinner")
    assert not_there.text.startswith(
        "nobody@nowhere.example is not on the guest list of Founders Dinner."
    )
    assert not world.writes(calendar)


async def test_members_may_read_but_not_write(world) -> None:
    calendar, chat, admin = await world.linked_group()
    member = world.person()
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    assert (await world.say(chat, member, "/pending founders dinner")).text.startswith(
        "Founders Dinner:"
    )
    for command in (
        f"/approve {email} Founders Dinner",
        "/bulk approve Founders Dinner pending",
        "/unlink",
        "/digest on",
    ):
        refused = await world.say(chat, member, command)
        assert refused.text.startswith("Only admins of this calendar"), command
    # A member pressing an admin's Confirm is refused too.
    preview = await world.say(chat, admin, f"/approve {email} Founders Dinner")
    pressed = world.press_only(chat, member, preview, "Confirm")
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(pressed), 5)
    assert answer["text"].startswith("Only admins") and answer["show_alert"]
    assert not world.writes(calendar)


async def test_bulk_approval_from_preview_to_final_report(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Main Conference 2026", "pending_approval")

    preview = await world.say(chat, admin, "/bulk approve main conference pending")
    lines = preview.text.splitlines()
    assert lines[0] == f"Approve {len(pending)} guest(s) of Main Conference 2026 (pending)?"
    assert lines[1] == "For example:" and len(lines) == 2 + 5
    world.sim.state.configure(latency_seconds=0.25)  # slow enough to press Pause
    try:
        started = await world.press(chat, admin, preview, "Confirm")
        assert started.text.startswith("Approving guests of Main Conference 2026")
        live = await world.next_message(chat, lambda m: "Pause" in [b["text"] for b in m.buttons])
        await world.press(chat, admin, live, "Pause")
        paused = await world.next_message(chat, lambda m: "Paused: the guests in flight" in m.text)
        assert [b["text"] for b in paused.buttons] == ["Resume", "Cancel"]
        writes_when_paused = len(world.writes(calendar))
        assert writes_when_paused < len(pending)
        await world.press(chat, admin, paused, "Resume")
    finally:
        world.sim.state.configure(latency_seconds=0.0)
    final = await world.next_message(
        chat, lambda m: m.message_id == preview.message_id and "finished" in m.text, timeout=30
    )

    assert not final.buttons and final.text.splitlines()[0].endswith("100%")
    assert f"Approved: {len(pending)} of {len(pending)} matching guest(s)." in final.text
    # The workflow posts its own report too, as a new message that survives bot restarts.
    [report] = await world.tg.wait_until(
        lambda: [m for m in world.tg.messages(chat) if m.message_id > preview.message_id] or None,
        10,
    )
    assert "Bulk job finished for Main Conference 2026" in report.text
    per_guest = Counter(w.guest_id for w in world.writes(calendar))
    assert len(per_guest) == len(pending) and set(per_guest.values()) == {1}
    assert all(g.approval_status == "approved" for g in pending)
    audited = {e.action: e.actor_user_id for e in await world.audit(calendar.org_id)}
    assert audited["bulk_approved"] == admin and audited["bulk_pause"] == admin


async def test_bulk_previews_unknown_emails_refunds_and_empty_sets(world) -> None:
    calendar, chat, admin = await world.linked_group()
    approved = world.guests(calendar, "Founders Dinner", "approved")[0].person.email
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    preview = await world.say(
        chat, admin, f"/bulk approve Founders Dinner {pending} {approved} nobody@nowhere.example"
    )
    assert preview.text.splitlines()[0].startswith("Approve 1 guest(s) of Founders Dinner")
    assert "1 already approved will be left as they are." in preview.text
    assert "Not on the guest list: nobody@nowhere.example" in preview.text
    paid = await world.say(chat, admin, "/bulk decline main conference pending")
    assert "Decline and refund" in [b["text"] for b in paid.buttons]
    nothing = await world.say(chat, admin, "/bulk approve Lisbon Workshop approved")
    assert nothing.text.startswith("Nothing to do for Lisbon Workshop (approved).")
    assert not nothing.buttons
    no_filter = await world.say(chat, admin, "/bulk approve Founders Dinner")
    assert no_filter.text.startswith("Say which guests")
    assert not world.writes(calendar)


async def test_bulk_filters_may_be_separated_by_commas(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Main Conference 2026", "pending_approval")
    waitlist = world.guests(calendar, "Main Conference 2026", "waitlist")
    assert pending and waitlist

    for command in (
        "/bulk approve main conference pending, waitlist",
        "/bulk approve main conference pending,waitlist",
        "/bulk approve main conference, pending , waitlist",
    ):
        preview = await world.say(chat, admin, command)
        first = preview.text.splitlines()[0]
        total = len(pending) + len(waitlist)
        assert first == f"Approve {total} guest(s) of Main Conference 2026 (pending · waitlist)?"
    assert not world.writes(calendar)


async def test_double_confirm_starts_one_bulk_job(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")

    preview = await world.say(chat, admin, "/bulk approve Founders Dinner pending")
    world.press_only(chat, admin, preview, "Confirm")
    world.press_only(chat, admin, preview, "Confirm")
    await world.next_message(chat, lambda m: "Bulk job finished" in m.text, timeout=30)

    per_guest = Counter(w.guest_id for w in world.writes(calendar))
    assert len(per_guest) == len(pending) and set(per_guest.values()) == {1}
    jobs = await eventually(lambda: _bulk_jobs(world, calendar.org_id), timeout=10)
    assert len(jobs) == 1
    # The press that took the confirmation started it through `services.bulk`: one audit row.
    [started] = await world.audit(calendar.org_id, "bulk_approved_started")
    assert (started.source, started.result, started.actor_user_id, started.chat_id) == (
        "bot",
        "started",
        admin,
        chat,
    )


async def _bulk_jobs(world, org_id: int) -> list[JobInfo]:
    return [j for j in await world.deps.automations.list_jobs(org_id) if j.kind == "bulk"]


async def test_plain_language_writes_go_through_the_same_confirmation(world) -> None:
    calendar, _chat, admin = await world.linked_group()
    await world.link(calendar, admin, admin)
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email
    member = world.person()
    await world.link(calendar, member, admin)
    await world.member(calendar, member)  # a member's DM sees the calendar, read-only

    preview = await world.say(admin, admin, f"approve {email} for the founders dinner")
    assert preview.text.startswith("Approve this guest for Founders Dinner?")
    assert [b["text"] for b in preview.buttons] == ["Confirm", "Cancel"]
    bulk = await world.say(admin, admin, "Approve everyone pending for the founders dinner")
    assert bulk.text.startswith("Approve 6 guest(s) of Founders Dinner (pending)?")
    refused = await world.say(member, member, f"decline {email} for the founders dinner")
    assert refused.text.startswith("Only admins of this calendar")
    assert not world.writes(calendar)


async def test_a_running_bulk_job_can_be_cancelled_from_its_message(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Main Conference 2026", "pending_approval")

    preview = await world.say(chat, admin, "/bulk decline main conference pending")
    world.sim.state.configure(latency_seconds=0.25)
    try:
        await world.press(chat, admin, preview, "Decline, no refund")
        live = await world.next_message(chat, lambda m: "Cancel" in [b["text"] for b in m.buttons])
        await world.press(chat, admin, live, "Cancel")
        final = await world.next_message(
            chat,
            lambda m: m.message_id == preview.message_id and "cancelled" in m.text,
            timeout=30,
        )
    finally:
        world.sim.state.configure(latency_seconds=0.0)
    assert "Bulk job cancelled for Main Conference 2026." in final.text
    declined = [w for w in world.writes(calendar) if w.new_status == "declined"]
    untouched = len(pending) - len(declined)
    assert untouched > 0
    assert (
        f"Cancelled after {len(declined)} of {len(pending)}: {len(declined)} declined, "
        f"{untouched} left as they were." in final.text
    )
    assert all(w.should_refund is not True for w in declined)
