"""/link, /unlink, /use, /role and /token: keys handled as secrets, tenancy, audit."""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.routers.link import UNLINK_EXPIRED
from luma.ratelimit import ORGANIZATION_KEY
from store.crypto import fingerprint
from store.models import ApiToken, Chat, Organization, Role, User
from store.orgs import get_role
from tests.conftest import eventually


async def _org_for_chat(world, chat: int) -> Organization | None:
    async with world.deps.sessions() as session:
        row = await session.get(Chat, chat)
        return await session.get(Organization, row.org_id) if row and row.org_id else None


async def test_start_says_how_to_link_or_which_calendar_is_linked(world) -> None:
    user = world.person()
    assert "/link <your Luma API key>" in (await world.say(user, user, "/start")).text
    calendar, chat, admin = await world.linked_group()
    greeting = await world.say(chat, admin, "/start")
    assert f"works with the Luma calendar {calendar.name}" in greeting.text


async def test_link_in_a_dm_checks_the_key_and_names_the_calendar(world, caplog) -> None:
    handle = world.sim.state.add_calendar("Ada's Calendar", events=3, guests_per_event=5)
    seeded = sorted(e.name for e in world.sim.state.calendar(handle.id).events.values())
    user = world.person()

    with caplog.at_level(logging.DEBUG):
        reply = await world.say(user, user, f"/link {handle.api_key}")
    assert handle.api_key not in caplog.text

    assert "Ada's Calendar" in reply.text.replace("&#x27;", "'")  # named by the calendar
    assert handle.api_key[-4:] in reply.text and handle.api_key not in reply.text
    assert not world.tg.was_deleted(user, reply.message_id - 1)  # only groups need deleting
    org = await _org_for_chat(world, user)
    assert org is not None and org.luma_calendar_id == handle.id
    assert org.key_fingerprint == fingerprint(handle.api_key)
    assert handle.api_key.encode() not in org.key_ciphertext
    [entry] = await world.audit(org.id, "link")
    assert entry.actor_user_id == user and entry.source == "bot"
    assert handle.api_key not in str(entry.target)
    async with world.deps.sessions() as session:
        assert (await session.get(User, user)).active_org_id == org.id
        assert await get_role(session, org_id=org.id, user_id=user) is Role.ADMIN

    # The first sync was started: the calendar's events are there when asked for.
    async def listed() -> str | None:
        text = (await world.say(user, user, "/events all")).text
        return text if text.startswith("Events (") else None

    listing = await eventually(listed, timeout=20, interval=0.2)
    assert listing.splitlines()[0] == f"Events ({len(seeded)})"
    assert [name for name in seeded if name not in listing] == []


async def test_in_a_group_the_key_message_is_deleted_before_anything_else(world) -> None:
    handle = world.sim.state.add_calendar("Group Calendar")
    member, admin = world.person(), world.person()
    chat = world.group(admin=admin)

    said = world.tg.user_says(chat, member, f"/link {handle.api_key}")
    reply = await world.tg.wait_for_reply(chat)
    assert world.tg.was_deleted(chat, said["message"]["message_id"])
    assert "Only an administrator of this group" in reply.text
    assert await _org_for_chat(world, chat) is None

    said = world.tg.user_says(chat, admin, "/link secret-not-a-real-key-0000")
    reply = await world.tg.wait_for_reply(chat)
    assert world.tg.was_deleted(chat, said["message"]["message_id"])
    assert "Luma rejected this key, so nothing was stored" in reply.text
    assert await _org_for_chat(world, chat) is None

    said = world.tg.user_says(chat, admin, f"/link {handle.api_key}")
    reply = await world.tg.wait_for_reply(chat)
    assert world.tg.was_deleted(chat, said["message"]["message_id"])
    assert "Linked this chat" in reply.text and "…" + handle.api_key[-4:] in reply.text
    org = await _org_for_chat(world, chat)
    assert org is not None and org.luma_calendar_id == handle.id
    assert org.key_fingerprint == fingerprint(handle.api_key)
    assert world.tg.calls("getChatMember")  # admin rights come from Telegram


async def test_a_key_the_bot_cannot_delete_gets_a_warning(world) -> None:
    handle = world.sim.state.add_calendar("Exposed Calendar")
    admin = world.person()
    chat = world.group(admin=admin, bot_admin=False)

    said = world.tg.user_says(chat, admin, f"/link {handle.api_key}")
    reply = await world.tg.wait_for_reply(chat)

    assert not world.tg.was_deleted(chat, said["message"]["message_id"])
    assert "Linked this chat" in reply.text
    assert "please delete it yourself" in reply.text


async def test_link_without_a_key_asks_for_it_and_cancel_stops(world) -> None:
    handle = world.sim.state.add_calendar("Asked Calendar")
    user = world.person()

    assert "Send me your Luma API key" in (await world.say(user, user, "/link")).text
    assert (await world.say(user, user, "/cancel")).text == "Cancelled."
    assert (await world.say(user, user, "/cancel")).text == "Nothing to cancel."
    assert "not linked" in (await world.say(user, user, "/events")).text

    await world.say(user, user, "/link")
    reply = await world.say(user, user, handle.api_key)
    assert "Linked this chat" in reply.text
    org = await _org_for_chat(world, user)
    assert org is not None and org.luma_calendar_id == handle.id
    assert org.key_fingerprint == fingerprint(handle.api_key)


async def test_unlink_stops_the_schedules_when_no_chat_is_left(world) -> None:
    calendar, chat, admin = await world.linked_group()
    other = world.group(admin=admin)
    await world.link(calendar, other, admin)
    schedule = f"sync-schedule-{calendar.org_id}"
    await world.deps.automations.ensure_sync_schedule(calendar.org_id)

    ask = await world.say(chat, admin, "/unlink")
    assert ask.text.startswith("Unlink this chat from")
    reply = await world.press(chat, admin, ask, "Unlink")
    assert "no longer sees" in reply.text and "scheduled syncs are stopped" not in reply.text
    assert await world.deps.automations.schedule_exists(schedule)
    assert "not linked" in (await world.say(chat, admin, "/events")).text

    ask = await world.say(other, admin, "/unlink")
    reply = await world.press(other, admin, ask, "Unlink")
    assert "scheduled syncs are stopped" in reply.text
    assert not await world.deps.automations.schedule_exists(schedule)
    assert [e.chat_id for e in await world.audit(calendar.org_id, "unlink")] == [chat, other]


async def test_unlink_asks_first_and_cancel_changes_nothing(world) -> None:
    calendar, chat, admin = await world.linked_group()
    ask = await world.say(chat, admin, "/unlink")
    assert ask.text.startswith("Unlink this chat from") and "?" in ask.text
    assert (await _org_for_chat(world, chat)) is not None  # asking unlinked nothing
    cancelled = await world.press(chat, admin, ask, "Cancel")
    assert cancelled.text == "Cancelled; this chat stays linked."
    assert (await _org_for_chat(world, chat)) is not None
    assert await world.audit(calendar.org_id, "unlink") == []
    assert "not linked" not in (await world.say(chat, admin, "/events")).text
    # A press on the answered question (a stale client) finds nothing parked any more.
    late = world.tg.user_presses(
        chat, admin, ask.message_id, ask.callback_data("Unlink"), forged=True
    )
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(late), 5)
    assert answer is not None and answer.get("text") == UNLINK_EXPIRED
    assert (await _org_for_chat(world, chat)) is not None


async def test_a_dm_user_of_two_calendars_chooses_with_use(world) -> None:
    first = await world.calendar(name="Alpha Events", sync=False)
    second = await world.calendar(name="Beta Events", sync=False)
    user = world.person()
    for calendar in (first, second):
        async with world.deps.sessions.begin() as session:
            from store.orgs import set_role

            await set_role(session, org_id=calendar.org_id, user_id=user, role=Role.MEMBER)

    assert "choose one with /use" in (await world.say(user, user, "/events")).text
    question = await world.say(user, user, "/use")
    assert {b["text"] for b in question.buttons} == {"Alpha Events", "Beta Events"}
    chosen = await world.press(user, user, question, "Beta Events")
    assert chosen.text == "Now working with Beta Events."
    assert "Beta Events" in (await world.say(user, user, "/status")).text
    assert (await world.say(user, user, "/use alpha")).text == "Now working with Alpha Events."
    group = world.group(admin=user)
    assert "/use is for private chats" in (await world.say(group, user, "/use")).text


async def test_roles_are_granted_by_admins_only(world) -> None:
    calendar, chat, admin = await world.linked_group()
    member = world.person(username="maria_m")
    await world.say(chat, member, "/help")  # the bot meets @maria_m

    refused = await world.say(chat, member, "/role @maria_m admin")
    assert refused.text.startswith("Only admins of this calendar")
    assert "member" in (await world.say(chat, admin, "/role @maria_m member")).text
    reply = await world.say(chat, admin, "/role @maria_m admin")
    assert reply.text == f"@maria_m is now admin of {calendar.name}."
    assert "@maria_m — admin" in (await world.say(chat, admin, "/role")).text
    assert "do not know @ghost" in (await world.say(chat, admin, "/role @ghost admin")).text
    assert "admin or member" in (await world.say(chat, admin, "/role @maria_m boss")).text
    entries = await world.audit(calendar.org_id, "set_role")
    assert [e.target["role"] for e in entries] == ["member", "admin"]


async def test_tokens_are_shown_once_in_a_dm_and_can_be_revoked(world) -> None:
    calendar, chat, admin = await world.linked_group()
    await world.link(calendar, admin, admin)  # the admin's DM, linked too

    refused = await world.say(chat, admin, "/token new ci")
    assert "only hand out tokens in a private chat" in refused.text
    issued = await world.say(admin, admin, "/token new ci")
    token = next(e for e in issued.entities if e["type"] == "code")
    plaintext = issued.text[token["offset"] : token["offset"] + token["length"]]
    assert plaintext.startswith("lbt_")
    async with world.deps.sessions() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.org_id == calendar.org_id))
    assert row is not None and plaintext not in row.token_hash

    listed = await world.say(chat, admin, "/token list")
    assert row.prefix in listed.text and plaintext not in listed.text
    assert "No active token" in (await world.say(chat, admin, "/token revoke lbt_nope")).text
    assert "Revoked 1 token" in (await world.say(chat, admin, f"/token revoke {row.prefix}")).text
    assert "No active tokens" in (await world.say(chat, admin, "/token list")).text
    actions = [e.action for e in await world.audit(calendar.org_id)]
    assert actions.count("token_issue") == 1 and actions.count("token_revoke") == 1
    assert all(plaintext not in str(e.target) for e in await world.audit(calendar.org_id))


async def test_two_calendars_of_one_luma_user_stay_two_tenants_end_to_end(world) -> None:
    """One organizer, two calendars (one key each), linked in two groups: each group reads
    and writes its own calendar. Before, the second link merged into the first org."""
    lisbon, porto = (
        await world.calendar(name="Lisbon Chapter"),
        await world.calendar(name="Porto Chapter"),
    )
    state = world.sim.state
    assert state.calendar(lisbon.calendar_id).owner is state.calendar(porto.calendar_id).owner
    organizer = world.person()
    groups = {}
    for calendar in (lisbon, porto):
        group = world.group(admin=organizer)
        world.tg.user_says(group, organizer, f"/link {calendar.api_key}")
        reply = await world.tg.wait_for_reply(group)
        assert f"Linked this chat to the Luma calendar of {calendar.name}" in reply.text
        groups[calendar.name] = group
    for calendar in (lisbon, porto):
        org = await _org_for_chat(world, groups[calendar.name])
        assert org is not None and (org.id, org.luma_calendar_id) == (
            calendar.org_id,
            calendar.calendar_id,
        )
    porto_group = groups[porto.name]
    preview = await world.say(porto_group, organizer, "/bulk approve Founders Dinner pending")
    await world.press(porto_group, organizer, preview, "Confirm")
    await world.next_message(porto_group, lambda m: "finished" in (m.text or ""), timeout=30)
    assert world.writes(porto) and not world.writes(lisbon)
    pending_lisbon = world.guests(lisbon, "Founders Dinner", "pending_approval")
    listing = await world.say(groups[lisbon.name], organizer, "/pending founders dinner")
    assert listing.text.startswith(f"Founders Dinner: {len(pending_lisbon)} pending")


async def test_an_organization_key_offers_its_calendars_as_buttons(world) -> None:
    """/link with an organization key lists the calendars it opens; the one pressed becomes
    the chat's calendar (an org of its own), and the chat sees that calendar's events only."""
    state = world.sim.state
    organization = state.add_organization("Builders Org", calendars=2, events=2, guests_per_event=3)
    first, second = organization.calendars
    state.add_event(first.id, name="Only In The First")
    user = world.person()

    offer = await world.say(user, user, f"/link {organization.api_key}")
    assert "organization key" in offer.text and organization.api_key[-4:] in offer.text
    assert organization.api_key not in offer.text
    assert [b["text"] for b in offer.buttons] == [first.name, second.name]
    assert await _org_for_chat(world, user) is None  # nothing linked before the press

    linked = await world.press(user, user, offer, second.name)
    assert f"Linked this chat to the Luma calendar of {second.name}" in linked.text
    org = await _org_for_chat(world, user)
    assert org is not None and org.luma_calendar_id == second.id
    assert org.key_kind == ORGANIZATION_KEY
    assert org.key_fingerprint == fingerprint(organization.api_key)

    async def listed() -> str | None:
        text = (await world.say(user, user, "/events all")).text
        return text if text.startswith("Events (") else None

    listing = await eventually(listed, timeout=20, interval=0.2)
    assert listing.splitlines()[0] == "Events (2)"  # the second calendar's, not all five
    assert "Only In The First" not in listing


async def test_in_a_group_only_the_admin_who_sent_the_org_key_picks(world) -> None:
    organization = world.sim.state.add_organization("Group Org", calendars=2)
    admin, other_admin = world.person(), world.person()
    chat = world.group(admin=admin)
    world.tg.set_member_status(chat, other_admin, "administrator")

    said = world.tg.user_says(chat, admin, f"/link {organization.api_key}")
    offer = await world.tg.wait_for_reply(chat)
    assert world.tg.was_deleted(chat, said["message"]["message_id"])
    assert len(offer.buttons) == 2

    pressed = world.press_only(chat, other_admin, offer, organization.calendars[0].name)
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(pressed), 5)
    assert answer is not None and "expired or was already made" in answer.get("text", "")
    assert await _org_for_chat(world, chat) is None

    linked = await world.press(chat, admin, offer, organization.calendars[0].name)
    assert "Linked this chat" in linked.text
    org = await _org_for_chat(world, chat)
    assert org is not None and org.luma_calendar_id == organization.calendars[0].id
