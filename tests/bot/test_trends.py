"""/trends through the local Bot API: a short text and a PNG chart, numbers from the cache."""

from __future__ import annotations

from bot.texts import percent


async def test_trends_by_city_text_and_chart(world) -> None:
    calendar, chat, admin = await world.linked_group()
    gala = world.guests(calendar, "Winter Gala")
    attended = sum(1 for g in gala if g.checked_in_at is not None)

    reply = await world.say(chat, admin, "/trends city")
    chart = await world.next_message(chat, lambda m: m.photo is not None)

    lines = reply.text.splitlines()
    assert lines[0] == "📈 Trends by city over 5 events"
    # Lisbon: the conference (40 registered, 12 approved) and two fully approved 8-guest events.
    # Upcoming only: attendance is absent ("—"), never 0 %.
    assert "• Lisbon: 56 registered · 28 approved (50%) · attendance —" in lines
    assert "• Dubai: 12 registered · 6 approved (50%) · attendance —" in lines
    assert (
        f"• London: 20 registered · 20 approved (100%) · {attended} attended "
        f"({percent(attended, 20)}) · no-shows {percent(20 - attended, 20)}"
    ) in lines
    assert chart.photo is not None and chart.caption == "Trends by city"


async def test_trends_default_is_by_month_and_bad_input_is_refused(world) -> None:
    _calendar, chat, admin = await world.linked_group()

    reply = await world.say(chat, admin, "/trends")
    assert reply.text.startswith("📈 Trends by month over 5 events")
    await world.next_message(chat, lambda m: m.photo is not None)

    refused = await world.say(chat, admin, "/trends weather")
    assert refused.text.startswith("I cannot group trends by “weather”.")
    by_domain = await world.say(chat, admin, "/trends by @domains")
    assert by_domain.text.startswith("📈 Trends by email domain")


async def test_trends_need_a_linked_chat(world) -> None:
    person = world.person()
    reply = await world.say(person, person, "/trends")
    assert "not linked" in reply.text
    assert world.tg.photos(person) == []


async def test_trends_in_plain_language(world) -> None:
    calendar = await world.calendar()
    person = world.person()
    await world.link(calendar, person, person)  # a DM: every text is for the bot

    reply = await world.say(person, person, "which email domains attend most?")
    assert reply.text.startswith("📈 Trends by email domain over 5 events")
    chart = await world.next_message(person, lambda m: m.photo is not None)
    assert chart.caption == "Trends by email domain"


def test_upcoming_only_group_has_no_attendance_in_text_or_chart() -> None:
    from bot.routers.trends import trends_chart, trends_text
    from intel.trends import Dimension, Tally, TrendReport

    upcoming = Tally("Dubai", events=1, registered=4, approved=2)
    assert upcoming.attendance_rate is None and upcoming.no_show_rate is None
    report = TrendReport(Dimension.CITY, [upcoming], upcoming)
    text = trends_text(report)
    assert "attendance —" in text and "(0%)" not in text and "no-shows" not in text
    assert trends_chart(report).startswith(b"\x89PNG")
