"""Fifty malformed inputs: each gets one short answer, nothing crashes, nothing changes."""

from __future__ import annotations

from bot.middlewares.throttling import ThrottleLimits
from bot.texts import TELEGRAM_LIMIT, guest_line, pack, visible_len
from store.models import Guest

MALFORMED = [
    "/approve",
    "/approve not-an-email",
    "/approve a@b",
    "/approve @@@",
    "/approve x@example.com Nonexistent Event",
    "/approve nobody@nowhere.example Founders Dinner",
    "/decline",
    "/decline <b>bold</b>@example.com Founders Dinner",
    "/bulk",
    "/bulk frobnicate Founders Dinner pending",
    "/bulk approve",
    "/bulk approve Founders Dinner",
    "/bulk approve Founders Dinner @notadomain",
    "/bulk decline Nowhere At All pending",
    "/bulk approve pending",
    "/bulk approve Founders Dinner not@valid",
    "/events 2026-13",
    "/events 0000-01",
    "/event",
    "/event <script>alert(1)</script>",
    "/event " + "x" * 3000,
    "/event ''",
    "/guests",
    "/guests Founders Dinner pending approved",
    "/guests Founders Dinner @a.com @b.com",
    "/guests Founders Dinner someone@example.com",
    "/pending",
    "/pending ' OR 1=1 --",
    "/find",
    "/find @",
    "/find a@@b.com",
    "/export",
    "/export Nowhere At All",
    "/digest on 25:00",
    "/digest on 09:00 Mars/Base",
    "/digest on 9am",
    "/digest sometimes",
    "/digest on 09:00 Europe/Lisbon and more words",
    "/role @nobody_known admin",
    "/role @someone superuser",
    "/role a b c",
    "/token",
    "/token frobnicate",
    "/token revoke",
    "/token revoke 99999999999999999999",
    "/token new",
    "/link short",
    "/link secret-bogus-key-1234567890",
    "/nonexistent_command",
    "🙂🙂🙂 &amp; &lt;b&gt; \u202e\u0000",
]


async def test_fifty_malformed_inputs_each_get_one_clear_answer(bot_with) -> None:
    assert len(MALFORMED) == 50
    loose = ThrottleLimits(per_user=1000, per_chat=1000)
    async with bot_with(throttle=loose) as world:
        calendar, chat, admin = await world.linked_group()
        username = (await world.services.bot.me()).username
        answers = {}
        for text in MALFORMED:
            # In a group, a command no router knows is answered only when meant for the bot.
            said = {
                "/nonexistent_command": f"/nonexistent_command@{username}",
                MALFORMED[-1]: f"@{username} {text}",
            }.get(text, text)
            answers[text] = await world.say(chat, admin, said)
        await world.say(chat, admin, "/help")  # nothing else is still on its way

    for text, reply in answers.items():
        body = reply.text or ""
        assert body and len(body) <= 400, (text, body)
        assert "Traceback" not in body and "Exception" not in body, (text, body)
        assert "Something went wrong" not in body, (text, body)
    # User text comes back escaped, as text, never as markup.
    assert "<script>alert(1)</script>" in answers["/event <script>alert(1)</script>"].text
    assert "<b>bold</b>" in answers["/decline <b>bold</b>@example.com Founders Dinner"].text
    assert len(world.tg.messages(chat)) == len(MALFORMED) + 1  # exactly one answer each
    assert not world.writes(calendar)
    assert not await world.audit(calendar.org_id)
    # still linked, seen by a restarted bot (the throttle's counts outlive the process, so it
    # needs the loose limits too)
    assert "Linked to" in (await _status(bot_with, chat, admin, loose)).text


async def _status(bot_with, chat: int, admin: int, throttle: ThrottleLimits):
    async with bot_with(throttle=throttle) as world:
        return await world.say(chat, admin, "/status")


def test_every_page_fits_telegram_whatever_the_guests_are_called() -> None:
    wild = "🎉" * 300 + "<&>" * 200
    guests = [
        Guest(name=wild, email=f"{wild}@example.com", approval_status="pending_approval")
        for _ in range(50)
    ]
    text = pack(f"<b>{'&amp;' * 500}</b>", [guest_line(guest) for guest in guests])
    assert visible_len(text) <= TELEGRAM_LIMIT
    assert "<&>" not in text  # escaped
