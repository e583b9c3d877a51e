"""An org membership is the one source of authority (issue 16, item 1).

Each case was reproduced before the change: a removed or demoted linker kept approve, bulk,
/unlink and /token and could /role themselves back; a DM fell back to the org it was linked to
after its person left; group administrators were org admins for everything; anyone in a
linked group saw guest lists.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select

from services.caller import ADMIN_ONLY, GUEST_WRITERS_ONLY
from services.group_privacy import COUNTS_ONLY_NOTE, NOT_SHOWN, SENT_PRIVATELY
from store.models import (
    AuditEntry,
    AutomationSettings,
    Base,
    LumaRateSend,
    LumaRateState,
    Organization,
    Role,
)
from workflows.contracts.digest import DigestInput
from workflows.digest import DailyDigestWorkflow

NO_LONGER = "You are no longer a member of the calendar this chat was linked to"


def _plain(html: str) -> str:
    return (
        html.replace("&lt;", "<").replace("&gt;", ">").replace("<code>", "").replace("</code>", "")
    )


async def test_a_removed_linker_loses_everything_on_the_next_update(world) -> None:
    calendar, group, linker = await world.linked_group()
    await world.link(calendar, linker, linker)  # their DM too
    other_admin = world.person()
    await world.member(calendar, other_admin, Role.ADMIN)
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email
    assert (await world.say(linker, linker, "/pending founders dinner")).text.startswith(
        "Founders Dinner:"
    )

    await world.remove(calendar, linker)  # as the portal's team page does

    dm = await world.say(linker, linker, "/pending founders dinner")
    assert dm.text.startswith(NO_LONGER)
    assert (await world.say(linker, linker, "/token new ci")).text.startswith(NO_LONGER)
    for command, refusal in (
        ("/unlink", ADMIN_ONLY),
        ("/token new ci", ADMIN_ONLY),
        (f"/role {linker} admin", ADMIN_ONLY),
        ("/digest on", ADMIN_ONLY),
        # Still a Telegram administrator of the group, but the org took them out.
        (f"/approve {email} Founders Dinner", GUEST_WRITERS_ONLY),
        ("/bulk approve Founders Dinner pending", GUEST_WRITERS_ONLY),
    ):
        refused = await world.say(group, linker, command)
        assert refused.text == _plain(refusal), command
    assert not world.writes(calendar)
    assert await world.role(calendar, linker) is None


async def test_a_demoted_admin_cannot_promote_themselves_or_manage_the_org(world) -> None:
    calendar, group, linker = await world.linked_group()
    await world.link(calendar, linker, linker)
    await world.member(calendar, world.person(), Role.ADMIN)
    await world.member(calendar, linker, Role.MEMBER)  # demoted with /role or in the portal
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    for chat in (linker, group):
        refused = await world.say(chat, linker, f"/role {linker} admin")
        assert refused.text == _plain(ADMIN_ONLY)
        assert (await world.say(chat, linker, "/token new ci")).text == _plain(ADMIN_ONLY)
    assert (await world.say(linker, linker, "/unlink")).text == _plain(ADMIN_ONLY)
    denied = await world.say(linker, linker, f"/approve {email} Founders Dinner")
    assert denied.text == _plain(GUEST_WRITERS_ONLY)  # their DM: only their role counts
    assert await world.role(calendar, linker) is Role.MEMBER
    # Reading stays: they are still a member.
    listing = await world.say(linker, linker, "/pending founders dinner")
    assert listing.text.startswith("Founders Dinner:") and email in listing.text


async def test_group_administrators_decide_guests_there_and_nothing_else(world) -> None:
    calendar, group, _linker = await world.linked_group()
    group_admin = world.person()  # a Telegram administrator of the group, no membership
    world.tg.set_member_status(group, group_admin, "administrator")
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    preview = await world.say(group, group_admin, f"/approve {email} Founders Dinner")
    assert preview.text.startswith("Approve this guest for Founders Dinner?")
    world.press_only(group, group_admin, preview, "Confirm")
    await world.next_message(group, lambda m: m.text.startswith("Approved"))
    assert [w.email for w in world.writes(calendar)] == [email]
    [entry] = await world.audit(calendar.org_id, "set_approved")
    assert entry.actor_user_id == group_admin
    for command in ("/role 42 admin", "/token new ci", "/digest on", "/unlink"):
        refused = await world.say(group, group_admin, command)
        assert refused.text == _plain(ADMIN_ONLY), command
    # The portal is for the org's members (its pages check the role on every request).
    assert (await world.say(group, group_admin, "/web")).text.startswith("You are not a member")


async def test_guest_details_in_a_group_are_for_the_team_unless_an_admin_says_so(world) -> None:
    calendar, group, admin = await world.linked_group()
    outsider, member = world.person(), world.person()
    await world.member(calendar, member)
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    email = pending[0].person.email

    counted = await world.say(group, outsider, "/pending founders dinner")
    assert counted.text.startswith(f"Founders Dinner: {len(pending)} pending")
    assert email not in counted.text and _plain(NOT_SHOWN) in counted.text
    for command in (
        f"/find {email}",
        "/export founders dinner",
        "/vips founders dinner",
        "/trends domain",  # one guest at a personal domain is a person
        "/trends company",
    ):
        refused = await world.say(group, outsider, command)
        assert refused.text == _plain(NOT_SHOWN), command
    shown = await world.say(group, member, "/pending founders dinner")
    assert email in shown.text  # a member of the team sees names

    assert (await world.say(group, outsider, "/privacy show")).text == _plain(ADMIN_ONLY)
    assert "everyone in this group" in (await world.say(group, admin, "/privacy show")).text
    assert email in (await world.say(group, outsider, "/pending founders dinner")).text
    await world.say(group, admin, "/privacy counts")
    again = await world.say(group, outsider, "/pending founders dinner")
    assert email not in again.text
    [entry, _] = await world.audit(calendar.org_id, "group_personal_data")
    assert (entry.result, entry.actor_user_id) == ("on", admin)


async def test_linking_a_public_group_warns_and_shows_counts_only(world) -> None:
    handle = world.sim.state.add_calendar("Public Calendar")
    admin = world.person()
    group = world.group(admin=admin)
    world.tg.chat(group).username = "our_public_group"

    world.tg.user_says(group, admin, f"/link {handle.api_key}")
    reply = await world.tg.wait_for_reply(group)
    assert "Linked this chat" in reply.text
    assert "This group is public: anyone can join it." in reply.text
    private = world.group(admin=admin)
    world.tg.user_says(private, admin, f"/link {handle.api_key}")
    reply = await world.tg.wait_for_reply(private)
    assert _plain(COUNTS_ONLY_NOTE) in reply.text and "public" not in reply.text


async def test_in_a_public_group_a_members_guest_list_goes_to_their_private_chat(world) -> None:
    calendar, group, admin = await world.linked_group()
    world.tg.chat(group).username = "our_public_group"
    emails = {guest.person.email for guest in world.guests(calendar, "Main Conference 2026")}
    member = world.person()
    await world.member(calendar, member)

    # The bot may not write to them yet: they are asked to start it; the group sees nothing.
    reply = await world.say(group, member, "/guests main conference 2026")
    assert "open a private chat with me (https://t.me/" in reply.text
    assert not any(email in reply.text for email in emails)

    await world.say(member, member, "/start")
    other = await world.calendar()
    await world.member(other, member)
    await world.link(other, member, member)
    await world.say(member, member, f"/use {other.name}")  # their private chat follows it
    reply = await world.say(group, member, "/guests main conference 2026")
    assert reply.text == _plain(SENT_PRIVATELY)
    page = await world.next_message(member, lambda m: m.text.startswith("Main Conference"))
    assert sum(email in page.text for email in emails) == 20  # the first page, with More
    more = await world.press(member, member, page, "More")
    assert sum(email in more.text for email in emails) == 20  # the rest, in the private chat
    await world.say(group, member, "/export main conference 2026")
    export = await world.next_message(member, lambda m: m.document is not None)
    assert export.document is not None and export.document.filename.endswith(".csv")
    assert all(not any(e in m.text for e in emails) for m in world.tg.messages(group))

    await world.say(group, admin, "/privacy show")  # an admin chose to show them here
    shown = await world.say(group, member, "/guests main conference 2026")
    assert sum(email in shown.text for email in emails) == 20


async def _run_digest(world, chat: int, org_id: int) -> bool:
    """What a digest schedule set up earlier does when it fires: True when it posted."""
    outcome = await world.deps.automations.client.execute_workflow(
        DailyDigestWorkflow.run,
        DigestInput(chat_id=chat, org_id=org_id, force=True),
        id=f"digest-test-{uuid.uuid4().hex[:8]}",
        task_queue=world.deps.automations.defaults.task_queue,
    )
    return outcome.posted


async def test_a_digest_scheduled_earlier_never_posts_where_it_no_longer_belongs(world) -> None:
    first, group, admin = await world.linked_group()
    assert await _run_digest(world, group, first.org_id)
    second = await world.calendar()
    await world.link(second, group, admin)  # the group now follows another calendar
    before = len(world.tg.messages(group))
    assert not await _run_digest(world, group, first.org_id)
    assert len(world.tg.messages(group)) == before  # nothing of the first calendar posted

    member = world.person()
    await world.member(first, member, Role.ADMIN)  # so that they may turn their digest on
    await world.link(first, member, admin)
    await world.say(member, member, "/start")  # a bot may write only to who started it
    assert await _run_digest(world, member, first.org_id)
    await world.say(member, member, "/digest on")
    assert await _run_digest(world, member, first.org_id)
    marked = await _digest_marked_at(world, member)
    await world.remove(first, member)
    before = len(world.tg.messages(member))
    assert not await _run_digest(world, member, first.org_id)
    assert len(world.tg.messages(member)) == before
    # Not posted, so not marked sent: the next digest still covers what this one held.
    assert marked is not None and await _digest_marked_at(world, member) == marked


async def _digest_marked_at(world, chat: int) -> datetime | None:
    async with world.deps.sessions() as session:
        settings = await session.get(AutomationSettings, chat)
        return settings.digest_last_sent_at if settings else None


async def test_forgetting_a_calendar_leaves_nothing_of_it_in_the_database(world) -> None:
    calendar, group, admin = await world.linked_group()
    await world.link(calendar, admin, admin)
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email
    for command in (f"/tag {email} speaker", f"/note {email} met at the gala", "/token new x"):
        await world.say(admin, admin, command)
    await world.say(group, admin, "/digest on")
    ask = await world.say(group, admin, "/unlink")
    await world.press(group, admin, ask, "Unlink")
    ask = await world.say(admin, admin, "/unlink")
    unlinked = await world.press(admin, admin, ask, "Unlink")
    assert f"/forget {calendar.name}" in unlinked.text  # the last chat: offered

    wrong = await world.say(admin, admin, "/forget Someone Else")
    assert wrong.text.startswith("Type one of your calendars' names exactly")
    done = await world.say(admin, admin, f"/forget {calendar.name}")
    assert done.text.startswith(f"Deleted {calendar.name}: its Luma key and")

    async with world.deps.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if "org_id" in table.columns:
                left = await session.scalar(
                    select(func.count()).select_from(table).where(table.c.org_id == calendar.org_id)
                )
                assert left == 0, table.name
        assert await session.get(Organization, calendar.org_id) is None
        for model in (LumaRateSend, LumaRateState):
            assert not (
                await session.scalars(select(model).where(model.budget_key == calendar.calendar_id))
            ).all()
        [kept] = (  # this admin's own deletion: other tests delete organizations meanwhile
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "org_deleted", AuditEntry.actor_user_id == admin
                )
            )
        ).all()
        assert kept.org_id is None and kept.chat_id == admin
        # Nothing naming it in the rows that remain, whatever the table (guest emails are
        # not unique across the test's calendars, its ids and key are).
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                text = str(row)
                assert calendar.calendar_id not in text, table.name
                assert calendar.api_key[-12:] not in text, table.name
    assert not await world.deps.automations.schedule_exists(f"sync-schedule-{calendar.org_id}")


async def test_a_key_shaped_message_in_a_group_is_deleted_whatever_its_syntax(world) -> None:
    _calendar, group, admin = await world.linked_group()
    provider_key = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"
    for text in (
        f"/enrich on {provider_key}",  # wrong place: /enrich belongs in a private chat
        f"here is our pdl key {provider_key} can someone set it up",
    ):
        said = world.tg.user_says(group, admin, text)
        notice = await world.tg.wait_for_reply(group)
        assert world.tg.was_deleted(group, said["message"]["message_id"])
        assert notice.text.startswith("I deleted a message that looked like it held an API key")
    kept = world.tg.user_says(
        group, admin, "see https://lu.ma/event/evt-abc123def456ghi789jkl012mno"
    )
    await world.say(group, admin, "/help")  # something after it, to know it was looked at
    assert not world.tg.was_deleted(group, kept["message"]["message_id"])
