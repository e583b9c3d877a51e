"""Two things a turn remembers beyond an event and a filter: one person, and a range of dates.

After an answer about one guest, "approve her" is the one-guest change of that guest (never a
bulk change, never without a preview); a pronoun with nobody remembered, or after a list of
several, makes the bot ask. After a list for a range of dates, "the week after", "the month
before", "the next one" move the range: by the unit they name, else by the range's own length.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nlp import IntentParser, KnownEvent, ParseContext
from nlp.dates import Shift, find_shift, shift_span
from nlp.followup import PreviousTurn, follow_up
from nlp.intent import GuestStatus, IntentName, TargetStatus

WEEK = (date(2026, 11, 30), date(2026, 12, 6))  # Monday..Sunday
DECEMBER = (date(2026, 12, 1), date(2026, 12, 31))


def _with(ctx: ParseContext, turn: PreviousTurn | None) -> ParseContext:
    return ParseContext.build(ctx.now, ctx.timezone, ctx.events, turn)


# --- moving a range -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "forward", "unit"),
    [
        ("and the week after?", True, "week"),
        ("the week before", False, "week"),
        ("what about the month after?", True, "month"),
        ("and the following week", True, "week"),
        ("a week later", True, "week"),
        ("the day before", False, "day"),
        ("and the next one?", True, None),
        ("the one before that", False, None),
    ],
)
def test_steps_from_a_range_are_found(text: str, forward: bool, unit: str | None) -> None:
    assert find_shift(text) == Shift(forward, unit)


@pytest.mark.parametrize(
    "text",
    [
        "the week after next",  # two weeks from now, not a step
        "the day after tomorrow",
        "the week after the conference",
        "events next week",
        "what did i ask before that",
    ],
)
def test_dates_of_their_own_are_no_step(text: str) -> None:
    assert find_shift(text) is None


@pytest.mark.parametrize(
    ("span", "shift", "moved"),
    [
        (WEEK, Shift(True, "week"), ("2026-12-07", "2026-12-13")),
        (WEEK, Shift(False, "week"), ("2026-11-23", "2026-11-29")),
        (WEEK, Shift(True, None), ("2026-12-07", "2026-12-13")),
        (DECEMBER, Shift(True, "month"), ("2027-01-01", "2027-01-31")),
        (DECEMBER, Shift(False, "month"), ("2026-11-01", "2026-11-30")),
        # A calendar month moves by a calendar month, not by 31 days.
        (DECEMBER, Shift(True, None), ("2027-01-01", "2027-01-31")),
        ((date(2027, 1, 1), date(2027, 1, 31)), Shift(True, None), ("2027-02-01", "2027-02-28")),
        # Two whole months move by two.
        ((date(2026, 11, 1), date(2026, 12, 31)), Shift(True, None), ("2027-01-01", "2027-02-28")),
        # Any other range by its number of days.
        ((date(2026, 11, 25), date(2026, 12, 4)), Shift(True, None), ("2026-12-05", "2026-12-14")),
        # A named unit: that unit's span next to the range.
        (DECEMBER, Shift(True, "week"), ("2027-01-01", "2027-01-07")),
        (WEEK, Shift(True, "month"), ("2027-01-01", "2027-01-31")),
        (WEEK, Shift(True, "weekend"), ("2026-12-12", "2026-12-13")),
        (WEEK, Shift(False, "weekend"), ("2026-11-28", "2026-11-29")),
        (
            (date(2026, 11, 28), date(2026, 11, 29)),
            Shift(True, "weekend"),
            ("2026-12-05", "2026-12-06"),
        ),
        ((date(2026, 12, 5), date(2026, 12, 5)), Shift(False, "day"), ("2026-12-04", "2026-12-04")),
        ((date(2026, 1, 1), date(2026, 12, 31)), Shift(True, None), ("2027-01-01", "2027-12-31")),
    ],
)
def test_a_range_moves_by_its_unit_or_its_own_length(
    span: tuple[date, date], shift: Shift, moved: tuple[str, str]
) -> None:
    assert shift_span(*span, shift) == tuple(date.fromisoformat(day) for day in moved)


async def test_a_list_of_events_moves_with_its_city_kept(ctx: ParseContext) -> None:
    turn = PreviousTurn(IntentName.LIST_EVENTS, city="Dubai", date_from=WEEK[0], date_to=WEEK[1])
    parser = IntentParser()
    for text, moved in [
        ("and the week after?", ("2026-12-07", "2026-12-13")),
        ("the week before", ("2026-11-23", "2026-11-29")),
        ("and the next one", ("2026-12-07", "2026-12-13")),
        ("show me events the following week", ("2026-12-07", "2026-12-13")),
        ("the month after", ("2027-01-01", "2027-01-31")),
    ]:
        got = await parser.parse(text, _with(ctx, turn))
        assert got.intent.intent is IntentName.LIST_EVENTS, text
        assert (got.intent.city, got.intent.date_from, got.intent.date_to) == (
            "Dubai",
            *(date.fromisoformat(day) for day in moved),
        ), text


async def test_a_step_with_no_range_to_move_asks(ctx: ParseContext) -> None:
    parser = IntentParser()
    undated = PreviousTurn(IntentName.LIST_EVENTS, city="Dubai")
    for turn in (None, undated):
        got = await parser.parse("and the week after?", _with(ctx, turn))
        assert got.followup is not None and got.followup.missing_context


# --- one remembered person ----------------------------------------------------------------

ADA = PreviousTurn(
    IntentName.FIND_GUEST, event="Winter Gala", event_id="evt-gala", email="ada@x.com"
)
BOB = PreviousTurn(IntentName.FIND_GUEST, email="bob@acme.com")  # several events: none kept
PENDING = PreviousTurn(
    IntentName.LIST_GUESTS,
    event="Founders Dinner",
    event_id="evt-dinner",
    status=GuestStatus.PENDING_APPROVAL,
    guests=True,
)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("approve her", TargetStatus.APPROVED),
        ("decline him", TargetStatus.DECLINED),
        ("let them in", TargetStatus.APPROVED),
        ("ok approve them", TargetStatus.APPROVED),
        ("kick her out", TargetStatus.DECLINED),
        ("bump him off the waitlist", TargetStatus.APPROVED),
    ],
)
async def test_a_pronoun_after_one_guest_is_that_guests_change(
    ctx: ParseContext, text: str, target: TargetStatus
) -> None:
    got = await IntentParser().parse(text, _with(ctx, ADA))
    assert got.intent.intent is IntentName.SET_STATUS  # one guest, never a bulk change
    assert (got.intent.email, got.intent.event, got.intent.target_status) == (
        "ada@x.com",
        "Winter Gala",
        target,
    )
    assert got.followup is not None and got.followup.event_id == "evt-gala"
    assert not got.followup.missing_context


async def test_the_event_the_words_name_wins_and_none_is_invented(ctx: ParseContext) -> None:
    parser = IntentParser()
    named = await parser.parse("decline him for the mixer", _with(ctx, ADA))
    assert (named.intent.email, named.intent.event) == ("ada@x.com", "Summer Mixer")
    assert named.followup is not None and named.followup.event_id is None  # not the gala's id
    # Registered for several events: no event; the bot asks which (ask_status_change).
    several = await parser.parse("approve him", _with(ctx, BOB))
    assert (several.intent.email, several.intent.event) == ("bob@acme.com", None)
    assert several.followup is not None and several.followup.event_id is None


@pytest.mark.parametrize(
    "turn",
    [
        None,  # nobody remembered (expired, or never asked)
        PENDING,  # a list of several: which one is "her"?
        PreviousTurn(IntentName.FIND_GUEST),  # a /find that matched several people
        PreviousTurn(IntentName.LIST_EVENTS, city="Dubai"),
    ],
)
@pytest.mark.parametrize("text", ["approve her", "decline him", "kick her out"])
async def test_a_pronoun_with_no_one_person_to_mean_asks(
    ctx: ParseContext, turn: PreviousTurn | None, text: str
) -> None:
    got = await IntentParser().parse(text, _with(ctx, turn))
    assert got.followup is not None and got.followup.missing_context
    assert got.intent.email is None


async def test_many_words_or_a_filter_never_mean_one_remembered_guest(ctx: ParseContext) -> None:
    parser = IntentParser()
    for text in ("approve them all", "decline those from @acme.com", "approve everyone"):
        got = await parser.parse(text, _with(ctx, ADA))
        assert got.intent.email is None, text
        assert got.followup is not None
        assert got.intent.intent is not IntentName.SET_STATUS or got.followup.missing_context


async def test_a_pronoun_in_an_events_name_is_no_person(ctx: ParseContext) -> None:
    night = KnownEvent("Her Campus Night", "Paris", ctx.now + timedelta(days=9))
    named = ParseContext.build(ctx.now, ctx.timezone, (*ctx.events, night), ADA)
    parser = IntentParser()
    bulk = await parser.parse("approve pending for her campus night", named)
    assert (bulk.intent.intent, bulk.intent.event) == (IntentName.BULK_STATUS, night.name)
    assert bulk.intent.email is None and bulk.followup and not bulk.followup.missing_context
    one = await parser.parse("approve her for her campus night", named)
    assert (one.intent.intent, one.intent.email, one.intent.event) == (
        IntentName.SET_STATUS,
        "ada@x.com",
        night.name,
    )


async def test_them_after_a_set_of_guests_is_still_the_set(ctx: ParseContext) -> None:
    got = await IntentParser().parse("approve them", _with(ctx, PENDING))
    assert got.intent.intent is IntentName.BULK_STATUS
    assert (got.intent.event, got.intent.status) == (
        "Founders Dinner",
        GuestStatus.PENDING_APPROVAL,
    )


async def test_a_negated_pronoun_order_is_no_order(ctx: ParseContext) -> None:
    got = await IntentParser().parse("don't approve her", _with(ctx, ADA))
    assert got.intent.intent is IntentName.UNKNOWN


async def test_the_person_is_looked_up_again(ctx: ParseContext) -> None:
    parser = IntentParser()
    got = await parser.parse("is she on the list for the founders dinner too?", _with(ctx, ADA))
    assert (got.intent.intent, got.intent.email, got.intent.event) == (
        IntentName.FIND_GUEST,
        "ada@x.com",
        "Founders Dinner",
    )
    nobody = await parser.parse("is he going to the gala?", _with(ctx, None))
    assert nobody.followup is not None and nobody.followup.missing_context
    assert nobody.intent.guest is None  # "he" is no guest's name


def test_the_remembered_email_round_trips_and_is_kept_from_gemini() -> None:
    stored = PreviousTurn.from_slots("find_guest", ADA.slots())
    assert stored == ADA and stored.has_guest and not stored.has_guests
    described = ADA.describe()
    assert "ada@x.com" not in described and "guest=one person" in described
    assert not PENDING.has_guest


def test_follow_up_is_pure_over_intents(ctx: ParseContext) -> None:
    parsed = IntentParser()._offline.parse("approve her", ctx)
    merged = follow_up("approve her", parsed, _with(ctx, ADA))
    assert merged.inherited == ("email", "event")
    assert merged.intent.public_dict()["email"] == "ada@x.com"
