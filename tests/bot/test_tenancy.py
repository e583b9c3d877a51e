"""Who sees what and who may write: group vs DM rules, isolation of calendars, throttling."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.keyboards import JobAction, JobCb
from bot.middlewares.throttling import ThrottleLimits
from catalog.guest_filter import GuestFilter
from tests.request_limits import COUNTING_WINDOW, clear_of_window_edge


def _people(world, calendar_id: str) -> tuple[set[str], set[str]]:
    """Every guest email and name of a simulator calendar."""
    guests = [
        guest
        for event in world.sim.state.calendar(calendar_id).events.values()
        for guest in event.guests.values()
    ]
    return {g.person.email for g in guests}, {g.person.name for g in guests if g.person.name}


def _shows(text: str, item: str) -> bool:
    """`item` as a whole word or address (aandersen@x is not in claraandersen@x)."""
    return re.search(rf"(?<![\w.@+-]){re.escape(item)}(?![\w@-])", text) is not None


async def test_two_chats_linked_to_different_calendars_never_see_each_other(bot_with) -> None:
    # Many questions from one person: room for them all under the throttle.
    async with bot_with(throttle=ThrottleLimits(per_user=100, per_chat=100)) as world:
        await _never_see_each_other(world)


async def _never_see_each_other(world) -> None:
    alpha = await world.calendar(name="Alpha Calendar")
    bravo = await world.calendar(name="Bravo Calendar", sync=False)
    secret_event = world.sim.state.add_event(
        bravo.calendar_id,
        name="Secret Board Meeting",
        city="Paris",
        start_at=datetime.now(UTC) + timedelta(days=3),
        guests=6,
        status_mix={"pending_approval": 1.0},
    )
    await (await world.deps.automations.sync_now(bravo.org_id)).result()
    _, chat_a, admin_a = await world.linked_group(alpha)
    _, chat_b, admin_b = await world.linked_group(bravo)
    # Both calendars have events called "Founders Dinner" (world.calendar's plan); what tells
    # them apart is Bravo's own event, its name, and its guests.
    alpha_emails, alpha_names = _people(world, alpha.calendar_id)
    bravo_emails, bravo_names = _people(world, bravo.calendar_id)
    bravo_only = (bravo_emails - alpha_emails) | (bravo_names - alpha_names)
    bravo_only |= {"Bravo Calendar", "Secret Board Meeting", secret_event}
    secret_guest = next(iter(world.sim.state.event(secret_event).guests.values())).person
    bravo_founder = next(
        g.person
        for g in world.guests(bravo, "Founders Dinner", "pending_approval")
        if g.person.email not in alpha_emails
    )
    assert secret_guest.email in bravo_only and bravo_founder.email in bravo_only

    # Bravo's own chat sees its data (so the checks below could fail).
    assert "Secret Board Meeting" in (await world.say(chat_b, admin_b, "/events")).text
    found = await world.say(chat_b, admin_b, f"/find {secret_guest.email}")
    assert secret_guest.email in found.text

    username = (await world.services.bot.me()).username
    asked = [
        "/status",
        "/events all",
        "/events paris",
        "/event founders dinner",
        "/guests Founders Dinner",
        "/pending founders dinner",
        "/event secret board meeting",
        f"/find {secret_guest.email}",
        f"/find {secret_guest.name}",
        f"/find {bravo_founder.email}",
        f"@{username} who is pending for the secret board meeting?",
    ]
    replies = {text: (await world.say(chat_a, admin_a, text)).text for text in asked}
    for asked_text, reply in replies.items():
        # What the person typed may be echoed back; anything else of Bravo's is a leak.
        leaked = sorted(i for i in bravo_only if _shows(reply, i) and i not in asked_text)
        assert not leaked, f"{asked_text!r} in Alpha's chat shows Bravo's {leaked}: {reply}"
    assert "Alpha Calendar" in replies["/status"]
    assert replies["/event secret board meeting"].startswith("I could not find an event called")
    assert replies[f"/find {secret_guest.email}"].startswith("I found no guest matching")
    assert replies[f"/find {bravo_founder.email}"].startswith("I found no guest matching")

    # Acting on Bravo's guests, events, confirmations and jobs from Alpha's chat fails.
    for text in (
        f"/approve {secret_guest.email} Secret Board Meeting",
        f"/approve {bravo_founder.email} Founders Dinner",  # Alpha's event of that name
    ):
        refused = await world.say(chat_a, admin_a, text)
        assert not refused.text.startswith("Approve this guest"), refused.text
        assert not refused.buttons

    preview = await world.say(
        chat_b, admin_b, f"/approve {secret_guest.email} Secret Board Meeting"
    )
    assert preview.text.startswith("Approve this guest")
    status_a = await world.say(chat_a, admin_a, "/status")  # a bot message in Alpha's chat
    pressed = world.tg.user_presses(
        chat_a, admin_a, status_a.message_id, preview.callback_data("Confirm"), forged=True
    )
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(pressed), 5)
    assert answer["text"].startswith("This confirmation has expired") and answer["show_alert"]

    job = await world.deps.automations.start_bulk(
        org_id=bravo.org_id,
        event_id=secret_event,
        target_status="declined",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=admin_b,
    )
    forged_job = JobCb(action=JobAction.CANCEL, workflow_id=job.workflow_id).pack()
    pressed = world.tg.user_presses(chat_a, admin_a, status_a.message_id, forged_job, forged=True)
    answer = await world.tg.wait_until(lambda: world.tg.callback_answer(pressed), 5)
    assert answer["text"] == "There is no such job in this calendar." and answer["show_alert"]
    report = await world.deps.automations.bulk_handle(job.workflow_id).result()
    assert not report.cancelled and report.done == 6  # ran to its end, untouched by Alpha

    # Nothing Alpha's chat did reached Bravo's calendar: only Bravo's own job wrote there.
    writes = world.writes(bravo)
    assert {w.email for w in writes} == {
        g.person.email for g in world.sim.state.event(secret_event).guests.values()
    }
    assert {(w.event_id, w.new_status) for w in writes} == {(secret_event, "declined")}
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
    limits = ThrottleLimits(per_user=3, per_chat=5, window_seconds=COUNTING_WINDOW)
    await clear_of_window_edge(COUNTING_WINDOW, margin=300)  # counts exactly: no edge in the way
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
        # A DM is another chat. Someone else's: `other`'s own DM could be counted before the
        # group message above, and then that one would trip `other`'s personal limit.
        third = world.person()
        dm = await world.say(third, third, "/help")
        assert dm.text.startswith("What I can do")
        assert len(world.tg.messages(chat)) == 7  # 5 answers, 2 slow-downs, then silence
