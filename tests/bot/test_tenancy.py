"""Who sees what and who may write: group vs DM rules, isolation of calendars, throttling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.middlewares.throttling import ThrottleLimits


async def test_two_chats_linked_to_different_calendars_never_see_each_other(world) -> None:
    first = await world.calendar(name="First Calendar", sync=False)
    second = await world.calendar(name="Second Calendar", sync=False)
    world.sim.state.add_event(
        second.calendar_id,
        name="Secret Board Meeting",
        city="Paris",
        start_at=datetime.now(UTC) + timedelta(days=3),
        guests=4,
    )
    for calendar in (first, second):
        await (await world.deps.automations.sync_now(calendar.org_id)).result()
    _, chat_a, admin_a = await world.linked_group(first)
    _, chat_b, admin_b = await world.linked_group(second)
    secret_guest = next(iter(world.sim.state.calendar(second.calendar_id).people)).email

    assert "First Calendar" in (await world.say(chat_a, admin_a, "/status")).text
    assert "Second Calendar" in (await world.say(chat_b, admin_b, "/status")).text
    assert "Secret Board Meeting" in (await world.say(chat_b, admin_b, "/events")).text
    assert "Secret Board Meeting" not in (await world.say(chat_a, admin_a, "/events")).text
    refused = await world.say(chat_a, admin_a, "/event secret board meeting")
    assert refused.text.startswith("I could not find an event called")
    found = await world.say(chat_a, admin_a, f"/find {secret_guest}")
    assert found.text.startswith("I found no guest matching") or "Secret" not in found.text
    # The admin of one group has no say over the other calendar.
    assert (await world.say(chat_b, admin_a, "/unlink")).text.startswith("Only admins")


async def test_telegram_group_admins_are_admins_but_only_of_their_group(world) -> None:
    calendar, chat, _linker = await world.linked_group()
    group_admin = world.person()
    world.tg.set_member_status(chat, group_admin, "administrator")
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    preview = await world.say(chat, group_admin, f"/approve {email} Founders Dinner")
    assert preview.text.startswith("Approve this guest")
    # In a DM the same person is nobody to this calendar.
    dm = await world.say(group_admin, group_admin, f"/approve {email} Founders Dinner")
    assert "not linked to a Luma calendar yet" in dm.text


async def test_in_a_dm_the_linker_is_admin_and_others_see_nothing(world) -> None:
    calendar = await world.calendar()
    owner, stranger = world.person(), world.person()
    await world.link(calendar, owner, owner)
    email = world.guests(calendar, "Founders Dinner", "pending_approval")[0].person.email

    assert (await world.say(owner, owner, f"/approve {email} Founders Dinner")).text.startswith(
        "Approve this guest"
    )
    for text in ("/events", "/status", "who is pending for the founders dinner?"):
        reply = await world.say(stranger, stranger, text)
        assert "not linked to a Luma calendar yet" in reply.text


async def test_throttling_per_user_and_per_chat_says_slow_down_once(bot_with) -> None:
    limits = ThrottleLimits(per_user=3, per_chat=5, window_seconds=60)
    async with bot_with(throttle=limits) as world:
        user, other = world.person(), world.person()
        chat = world.group(admin=user)
        for _ in range(5):
            world.tg.user_says(chat, user, "/help")
        replies = [await world.tg.wait_for_reply(chat) for _ in range(4)]
        firsts = sorted(reply.text.split("\n")[0] for reply in replies)
        assert firsts.count("What I can do") == 3
        assert sum(text.startswith("Slow down a little, please") for text in firsts) == 1
        # Refused updates did not count: the group has room for two more, from someone else.
        for _ in range(2):
            assert (await world.say(chat, other, "/help")).text.startswith("What I can do")
        full = await world.say(chat, other, "/help")  # the group's own limit, said once
        assert full.text.startswith("Slow down a little, please")
        world.tg.user_says(chat, other, "/help")
        dm = await world.say(other, other, "/help")  # a DM is another chat
        assert dm.text.startswith("What I can do")
        assert len(world.tg.messages(chat)) == 7  # 5 answers, 2 slow-downs, then silence
