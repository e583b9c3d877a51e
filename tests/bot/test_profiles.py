"""Tags, notes, VIPs and repeat guests through the local Bot API, end to end."""

from __future__ import annotations

import csv
import io
import re

from luma.emails import identity_key
from store.models import GuestNote, GuestTag
from tests.conftest import eventually


def _registered_events(world, calendar, email: str) -> int:
    key = identity_key(email)
    return sum(
        any(
            identity_key(g.person.email) == key and g.approval_status != "invited"
            for g in world.sim.state.event(event_id).guests.values()
        )
        for event_id in calendar.events.values()
    )


async def test_tag_untag_note_and_find(world) -> None:
    calendar, chat, admin = await world.linked_group()
    guest = world.guests(calendar, "Founders Dinner", "pending_approval")[0]
    email = guest.person.email

    tagged = await world.say(chat, admin, f"/tag {email.upper()} VIP")
    assert tagged.text.startswith("Tagged ") and tagged.text.splitlines()[0].endswith(" #vip.")
    assert re.search(r"Tags now: #vip · VIP score 1\d\d$", tagged.text.splitlines()[1])
    assert "Luma never sees them" in tagged.text
    again = await world.say(chat, admin, f"/tag {email} vip")
    assert "already has #vip. Nothing changed." in again.text
    await world.say(chat, admin, f"/tag {email} speaker")
    noted = await world.say(chat, admin, f"/note {email} met at the <b>Lisbon</b> dinner")
    assert noted.text.startswith("Noted for")

    found = await world.say(chat, admin, f"/find {email}")
    lines = found.text.splitlines()
    assert lines[0] == f"{guest.person.name} — {email}"
    assert "Tags: #speaker, #vip" in lines
    assert any(line.endswith("met at the <b>Lisbon</b> dinner") for line in lines)  # escaped
    vip_line = next(line for line in lines if line.startswith("VIP score: "))
    score = re.match(r"VIP score: (\d+)", vip_line)
    assert score is not None and int(score[1]) >= 150 and "⭐ VIP" in vip_line
    assert "tagged speaker (+50)" in vip_line and "tagged vip (+100)" in vip_line
    registered = _registered_events(world, calendar, email)
    assert any(line.startswith(f"Events: {registered} registered") for line in lines)

    removed = await world.say(chat, admin, f"/untag {email} speaker")
    assert removed.text.startswith(f"Removed #speaker from {email}.")
    missing = await world.say(chat, admin, f"/untag {email} speaker")
    assert "had no #speaker. Nothing changed." in missing.text

    audited = [(e.action, e.result) for e in await world.audit(calendar.org_id)]
    assert audited == [
        ("tag_guest", "ok"),
        ("tag_guest", "unchanged"),
        ("tag_guest", "ok"),
        ("note_guest", "ok"),
        ("untag_guest", "ok"),
        ("untag_guest", "unchanged"),
    ]
    assert not world.writes(calendar)  # nothing of this reaches Luma


async def test_members_and_bad_input_change_nothing(world) -> None:
    calendar, chat, admin = await world.linked_group()
    member = world.person()
    email = world.guests(calendar, "Founders Dinner")[0].person.email
    for command in (f"/tag {email} vip", f"/untag {email} vip", f"/note {email} hello"):
        refused = await world.say(chat, member, command)
        assert refused.text.startswith("Only admins of this calendar can do that"), command

    answers = {
        "/tag nobody@nowhere.example vip": "nobody@nowhere.example is not on any guest list",
        f"/tag {email} no way": "Give one email and one tag",
        f"/tag {email} VIP!!": "is not a tag I can use",
        "/tag not-an-email vip": "not-an-email",
        "/tag": "Give one email and one tag",
        f"/note {email}": "What should the note say?",
        f"/note {email} " + "x" * 1001: "Notes are at most 1000 characters",
        "/vips Founders Dinner @acme.com": "Give an event and at most one status",
        "/guests Founders Dinner #vip": "Tags filter bulk changes",
    }
    for command, expected in answers.items():
        reply = await world.say(chat, admin, command)
        assert expected in reply.text, (command, reply.text)
    async with world.deps.sessions() as session:
        for model in (GuestTag, GuestNote):
            rows = (await session.scalars(
                model.__table__.select().where(model.org_id == calendar.org_id)
            )).all()  # fmt: skip
            assert rows == []


async def test_vips_repeats_and_plain_language(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    star = pending[0].person.email
    await world.say(chat, admin, f"/tag {star} vip")

    vips = await world.say(chat, admin, "/vips founders dinner")
    assert vips.text.splitlines()[0] == "1 VIP(s) among Founders Dinner (a VIP scores 50+):"
    assert star in vips.text and "tagged vip (+100)" in vips.text

    await world.link(calendar, admin, admin)  # plain language in the admin's DM
    asked = await world.say(admin, admin, "show VIPs pending approval")
    assert "VIP(s) among upcoming events, pending" in asked.text and star in asked.text
    assert "Founders Dinner" in asked.text  # which event, since several are listed

    # "Lisbon" names three events: the bot asks which, then answers for the chosen one.
    choose = await world.say(admin, admin, "who are the repeat guests for Lisbon?")
    label = next(b["text"] for b in choose.buttons if b["text"].startswith("Lisbon Workshop"))
    await world.press(admin, admin, choose, label)
    answer = await world.next_message(admin, lambda m: "repeat guest" in m.text)
    workshop = world.guests(calendar, "Lisbon Workshop")
    repeats = {
        g.person.email for g in workshop if _registered_events(world, calendar, g.person.email) >= 2
    }
    if repeats:
        assert answer.text.startswith(f"{len(repeats)} repeat guest(s) among Lisbon Workshop (")
        assert all(email in answer.text for email in repeats)
    else:
        assert answer.text.startswith("No repeat guests among Lisbon Workshop")


async def test_approve_all_pending_tagged_vip(world) -> None:
    calendar, chat, admin = await world.linked_group()
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    approved_before = world.guests(calendar, "Founders Dinner", "approved")
    chosen = [pending[0], pending[2]]
    for guest in [*chosen, approved_before[0]]:
        await world.say(chat, admin, f"/tag {guest.person.email} vip")

    await world.link(calendar, admin, admin)  # plain language in the admin's DM
    preview = await world.say(
        admin, admin, "approve all pending tagged vip for the founders dinner"
    )
    assert preview.text.splitlines()[0] == (
        "Approve 2 guest(s) of Founders Dinner (pending · tagged vip)?"
    )
    await world.press(admin, admin, preview, "Confirm")
    await eventually(lambda: len(world.writes(calendar)) == 2, timeout=20)
    await world.next_message(
        admin, lambda m: m.message_id == preview.message_id and "finished" in m.text, timeout=30
    )
    assert {w.email for w in world.writes(calendar)} == {g.person.email for g in chosen}
    assert [g.approval_status for g in pending].count("pending_approval") == len(pending) - 2

    # The command's #tag reads the same filter; the cache already shows the job's approvals.
    command = await world.say(chat, admin, "/bulk approve Founders Dinner pending #vip")
    assert command.text == "Nothing to do for Founders Dinner (pending · tagged vip)."


async def test_export_has_profile_columns_and_tenants_stay_apart(world) -> None:
    calendar, chat, admin = await world.linked_group()
    guest = world.guests(calendar, "Founders Dinner", "approved")[0]
    email = guest.person.email
    await world.say(chat, admin, f"/tag {email} sponsor")
    await world.say(chat, admin, f'/note {email} =HYPERLINK("x") pays for drinks')

    world.tg.user_says(chat, admin, "/export founders dinner")
    sent = await world.tg.wait_for_reply(chat)
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(sent.document.data.decode()))}
    row = rows[email]
    assert row["tags"] == "sponsor" and "tagged sponsor (+50)" in row["vip_reasons"]
    assert int(row["vip_score"]) >= 50
    assert row["notes"].startswith("'=HYPERLINK")  # a formula is neutralized
    assert int(row["repeat_count"]) == _registered_events(world, calendar, email)
    assert {"company", "company_source", "tags", "notes", "vip_score", "repeat_count"} <= set(row)

    # The same person on another calendar's guest list: each org sees only its own tags.
    other = await world.calendar(sync=False)
    state = world.sim.state
    gala = state.event(other.events["Winter Gala"])
    state.add_guests(state.calendar(other.calendar_id), gala, [(email, None)], status="approved",
                     path="test")  # fmt: skip
    await (await world.deps.automations.sync_now(other.org_id)).result()
    _, other_chat, other_admin = await world.linked_group(other)
    await world.say(other_chat, other_admin, f"/tag {email} press")
    theirs = await world.say(other_chat, other_admin, f"/find {email}")
    assert "#press" in theirs.text
    assert "#sponsor" not in theirs.text and "pays for drinks" not in theirs.text
    ours = await world.say(chat, admin, f"/find {email}")
    assert "#sponsor" in ours.text and "#press" not in ours.text


async def test_repeats_lists_each_person_once_a_page_at_a_time(world, monkeypatch) -> None:
    from bot.routers import profiles
    from luma.models import REGISTERED_STATUSES

    monkeypatch.setattr(profiles, "LIST_LIMIT", 3)
    calendar, chat, admin = await world.linked_group()
    upcoming = [n for n in calendar.events if n != "Winter Gala"]
    expected = {
        identity_key(g.person.email)
        for name in upcoming
        for g in world.guests(calendar, name)
        if g.approval_status in REGISTERED_STATUSES
        and _registered_events(world, calendar, g.person.email) >= 2
    }
    assert len(expected) > 3  # enough for a second page

    page = await world.say(chat, admin, "/repeats")
    assert page.text.startswith(f"{len(expected)} repeat guest(s) among upcoming events (")
    seen: list[str] = []
    while True:
        emails = re.findall(r"— (\S+@\S+?)(?: ·|\n|$)", page.text)
        assert 0 < len(emails) <= 3
        seen += [identity_key(email) for email in emails]
        if not page.buttons:
            break
        world.press_only(chat, admin, page, "More")
        start = f"Repeat guests among upcoming events, {len(seen) + 1}–"
        page = await world.next_message(chat, lambda m, start=start: m.text.startswith(start))
    assert len(seen) == len(set(seen))  # one row per person, never one per event
    assert set(seen) == expected
