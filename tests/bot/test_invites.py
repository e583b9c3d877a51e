"""`/invite` through the local Bot API: preview, Add as going, the report that accounts for
every address; refusals change nothing."""

from __future__ import annotations


async def test_paste_preview_add_and_report(world) -> None:
    calendar, chat, admin = await world.linked_group()
    event_id = calendar.events["Founders Dinner"]
    event = world.sim.state.event(event_id)
    present = world.guests(calendar, "Founders Dinner")[0].person.email
    text = (
        f"/invite Founders Dinner\n{present}\nGrace Hopper <grace@invitees.example>\n"
        "not-an-address\ngrace@invitees.example"
    )
    preview = await world.say(chat, admin, text)
    lines = preview.text.splitlines()
    assert lines[0] == "Invite list for Founders Dinner: 4 address(es)"
    assert "• new: 1" in lines and "   grace@invitees.example" in lines
    assert "• already on the guest list: 1 (left as they are)" in lines
    assert "• not valid, will not be sent: 1" in lines
    assert "• repeated in the list: 1 (sent once)" in lines
    assert [b["text"] for b in preview.buttons] == ["Add as going", "Send invitations", "Cancel"]
    assert "grace@invitees.example" not in event.by_email  # nothing before the press

    started = await world.press(chat, admin, preview, "Add as going")
    assert started.text.startswith("Adding the list to Founders Dinner.")
    report = await world.next_message(chat, lambda m: "Invite list for" in m.text, timeout=30)
    assert report.text == (
        "Invite list for Founders Dinner done: 1 added, 1 already on the guest list, "
        "1 not valid addresses (3 address(es) in all, each accounted for)."
    )
    assert event.by_email["grace@invitees.example"].approval_status == "approved"
    adds = [w for w in world.writes(calendar) if w.endpoint == "add-guests"]
    assert [w.email for w in adds if w.old_status is None] == ["grace@invitees.example"]


async def test_members_and_bad_lists_change_nothing(world) -> None:
    calendar, chat, admin = await world.linked_group()
    member = world.person()
    refused = await world.say(chat, member, "/invite Founders Dinner\nx@invitees.example")
    assert "can approve or decline guests" in refused.text
    for text, expected in (
        ("/invite", "Name the event, then the addresses"),
        ("/invite Founders Dinner", "Name the event, then the addresses"),
        ("/invite Founders Dinner\nnobody here", "no valid address"),
    ):
        reply = await world.say(chat, admin, text)
        assert expected in reply.text, (text, reply.text)
    preview = await world.say(chat, admin, "/invite Founders Dinner\nnew@invitees.example")
    cancelled = await world.press(chat, admin, preview, "Cancel")
    assert cancelled.text == "Cancelled; nobody was added or invited."
    assert not [w for w in world.writes(calendar) if w.endpoint == "add-guests"]
