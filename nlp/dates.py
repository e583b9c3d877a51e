"""Relative and calendar dates in organizer language, resolved against "today" in the chat's zone.

The rules, so the bot and its users can rely on them:
- "today"/"tonight" -> that day; "tomorrow", "yesterday" likewise (date_from = date_to).
- "this week" / "next week" / "last week" -> Monday..Sunday of that week.
- "this weekend" -> Saturday..Sunday of the current week; "next weekend" the one after.
- "this month" / "next month" / "last month" -> first..last day of that month.
- "in March" -> March of this year unless March is over, then next year ("in March 2027" as
  given). A calendar date without a year ("Dec 5") follows the same rule.
- "next 30 days" / "next 2 weeks" -> today..today + that span; "last 7 days" -> the span
  back to today. "later this month" -> today..end of the month.
- "friday" / "this friday" -> the next Friday, today included; "next friday" -> Friday of
  next week.
- "upcoming" / "coming up" / "future" / "next 3 events" -> date_from = today, no end;
  "past events" / "previous events" / "last 5 events" -> date_to = yesterday, no start.
- In a sentence about the past ("which events did we host in October"), a month, a date
  without a year or a bare weekday means the latest one that has already come.
- Relative to an earlier range (a follow-up, `find_shift` and `shift_span`): "the week after",
  "the month before", "the following week", "a week later" -> that unit's span next to the
  range (the week after it; the calendar month after the month it ends in); "the next one",
  "the one before" -> the range moved by its own length (a calendar month or months by as
  many calendar months, any other range by its number of days).

Calendar dates ("5th of December", "2026-12-05") are read by dateparser, called only on
the phrases our patterns already isolated, which keeps a parse at a few milliseconds.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from dateparser.date import DateDataParser

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NUMBER_WORDS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
}

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?: ,)? \d{4}"
_CALENDAR_DATE = (
    rf"(?:{_MONTH}\.? {_DAY}(?:{_YEAR})?|(?:the )?{_DAY} (?:of )?{_MONTH}(?:{_YEAR})?"
    r"|\d{4}-\d{2}-\d{2})"
)
_WEEKDAY = (
    r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?|wednesday|tuesday|thursday|saturday"
)
_COUNT = r"(?:\d{1,3}|" + "|".join(NUMBER_WORDS) + ")"
_UNIT = r"(?:days?|weeks?|months?)"


class DateMatch(NamedTuple):
    """A date phrase found in the text: where it is, and the range it stands for."""

    start: int
    end: int
    date_from: date | None
    date_to: date | None


class Anchor(NamedTuple):
    """What relative dates are relative to; `past` when the sentence speaks of the past, so
    "which events did we host in October" means the October that has been."""

    today: date
    past: bool = False


Span = tuple[date | None, date | None]
Resolver = Callable[[re.Match[str], Anchor], Span]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_range(first: date) -> tuple[date, date]:
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _month_number(word: str) -> int:
    return next(i for i, name in enumerate(MONTHS, start=1) if name.startswith(word[:3]))


def _weekday_number(word: str) -> int:
    return next(i for i, name in enumerate(WEEKDAYS) if name.startswith(word[:3]))


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _shift(match: re.Match[str]) -> int:
    """-1, 0 or +1 for last/this/next."""
    word = match.group("which") or "this"
    return {"last": -1, "past": -1, "previous": -1, "next": 1, "coming": 1}.get(word, 0)


def _single_day(offset: int) -> Resolver:
    def resolve(match: re.Match[str], anchor: Anchor) -> Span:
        day = anchor.today + timedelta(days=offset)
        return day, day

    return resolve


def _week(match: re.Match[str], anchor: Anchor) -> Span:
    monday = _monday(anchor.today) + timedelta(weeks=_shift(match))
    return monday, monday + timedelta(days=6)


def _weekend(match: re.Match[str], anchor: Anchor) -> Span:
    saturday = _monday(anchor.today) + timedelta(days=5, weeks=_shift(match))
    return saturday, saturday + timedelta(days=1)


def _month(match: re.Match[str], anchor: Anchor) -> Span:
    return _month_range(_add_months(anchor.today.replace(day=1), _shift(match)))


def _year(match: re.Match[str], anchor: Anchor) -> Span:
    year = anchor.today.year + _shift(match)
    return date(year, 1, 1), date(year, 12, 31)


def _named_month(match: re.Match[str], anchor: Anchor) -> Span:
    month, today = _month_number(match.group("month")), anchor.today
    if match.group("year"):
        year = int(match.group("year"))
    elif anchor.past:
        year = today.year if month <= today.month else today.year - 1
    else:
        year = today.year if month >= today.month else today.year + 1
    return _month_range(date(year, month, 1))


def _span_ahead(match: re.Match[str], anchor: Anchor) -> Span:
    count, unit, today = _count(match.group("count")), match.group("unit"), anchor.today
    if unit.startswith("month"):
        first = _add_months(today.replace(day=1), count)
        end = first.replace(day=min(today.day, calendar.monthrange(first.year, first.month)[1]))
    else:
        end = today + timedelta(days=count * (7 if unit.startswith("week") else 1))
    return today, end


def _span_back(match: re.Match[str], anchor: Anchor) -> Span:
    count, unit = _count(match.group("count")), match.group("unit")
    days = count * {"d": 1, "w": 7, "m": 30}[unit[0]]
    return anchor.today - timedelta(days=days), anchor.today


def _rest_of(match: re.Match[str], anchor: Anchor) -> Span:
    today = anchor.today
    if match.group("unit") == "week":
        return today, _monday(today) + timedelta(days=6)
    return today, _month_range(today.replace(day=1))[1]


def _weekday(match: re.Match[str], anchor: Anchor) -> Span:
    target, today = _weekday_number(match.group("day")), anchor.today
    which = match.group("which")
    if which == "next":
        day = _monday(today) + timedelta(weeks=1, days=target)
    elif which == "last" or (anchor.past and not which):
        day = today - timedelta(days=(today.weekday() - target - 1) % 7 + 1)
    else:
        day = today + timedelta(days=(target - today.weekday()) % 7)
    return day, day


def _upcoming(match: re.Match[str], anchor: Anchor) -> Span:
    return anchor.today, None


def _past(match: re.Match[str], anchor: Anchor) -> Span:
    return None, anchor.today - timedelta(days=1)


def _calendar_range(match: re.Match[str], anchor: Anchor) -> Span:
    start = calendar_date(match.group("first"), anchor)
    end = calendar_date(match.group("second"), anchor)
    if start and end and end < start:
        if re.search(r"\d{4}", match.group("second")):
            return end, start  # both dates given in full, just in the wrong order
        end = end.replace(year=end.year + 1)  # "dec 31 to jan 2"
    return start, end


def _calendar_day(match: re.Match[str], anchor: Anchor) -> Span:
    day = calendar_date(match.group("date"), anchor)
    return day, day


_WHICH = r"(?P<which>this|next|last|past|previous|coming)"
RULES: tuple[tuple[re.Pattern[str], Resolver], ...] = tuple(
    (re.compile(rf"(?<![\w@.]){pattern}(?![\w@])"), resolver)
    for pattern, resolver in (
        (
            rf"(?:(?:between|from) )?(?:the )?(?P<first>{_CALENDAR_DATE}) "
            rf"(?:and|to|until|till|through|-) "
            rf"(?:the )?(?P<second>{_CALENDAR_DATE})",
            _calendar_range,
        ),
        (rf"(?:on )?(?P<date>{_CALENDAR_DATE})", _calendar_day),
        (r"today|tonight|this evening|this morning", _single_day(0)),
        (r"day after tomorrow", _single_day(2)),
        (r"tomorrow", _single_day(1)),
        (r"yesterday|last night", _single_day(-1)),
        (rf"(?:{_WHICH} |the )?weekend", _weekend),
        (rf"{_WHICH} week", _week),
        (rf"{_WHICH} month", _month),
        (rf"{_WHICH} year", _year),
        (
            rf"(?:(?:in|within|over|during|for) )?(?:the )?(?:next|coming|upcoming) "
            rf"(?P<count>{_COUNT}) (?P<unit>{_UNIT})",
            _span_ahead,
        ),
        (
            rf"(?:(?:in|within|over|during|for) )?(?:the )?(?:last|past|previous) "
            rf"(?P<count>{_COUNT}) (?P<unit>{_UNIT})",
            _span_back,
        ),
        (r"(?:later this|rest of the|rest of this) (?P<unit>week|month)", _rest_of),
        (
            rf"(?:(?:in|during|for|of|by|until) )?(?:the month of )?"
            rf"(?P<month>{_MONTH})(?: (?P<year>\d{{4}}))?",
            _named_month,
        ),
        (rf"(?:on |{_WHICH} )?(?P<day>{_WEEKDAY})", _weekday),
        (r"upcoming|coming up|future|next(?= (?:\d+|[a-z]+) events?\b)", _upcoming),
        (
            r"(?:past|previous)(?= (?:\S+ )?(?:events?|ones)\b)|in the past|already happened"
            r"|last(?= (?:\d+|[a-z]+) events?\b)",
            _past,
        ),
    )
)
_SHIFT_UNIT = r"(?P<unit>day|week|weekend|month|year)"
# What may follow "the week after" and make it a date of its own ("the week after next",
# "the day after tomorrow", "the week after the conference"), not a step from a range.
_NOT_A_STEP = (
    rf"(?! (?:next|tomorrow|today|tonight|yesterday|the|this|last|\d|{_MONTH}\b|(?:{_WEEKDAY})\b))"
)
_SHIFTS = tuple(
    (re.compile(rf"(?<![\w@.]){pattern}(?![\w@])"), forward)
    for pattern, forward in (
        (rf"(?:the|a|one) {_SHIFT_UNIT} (?:after|later){_NOT_A_STEP}", True),
        (rf"(?:the|a|one) {_SHIFT_UNIT} (?:before|earlier){_NOT_A_STEP}", False),
        (rf"(?:the )?following {_SHIFT_UNIT}", True),
        (rf"(?:the )?preceding {_SHIFT_UNIT}", False),
        (r"the (?:next|following) one|the one after(?: that| it)?", True),
        (r"the previous one|the one before(?: that| it)?", False),
    )
)


class Shift(NamedTuple):
    """A step from an earlier range: forward or back, by a named unit or (None) by the range's
    own length."""

    forward: bool
    unit: str | None


# Bare words that only name a month or weekday after a preposition ("may I", "sat at").
_AMBIGUOUS_ALONE = re.compile(r"^(?:may|mar|march|jun|sat|sun|wed|mon|fri|tue|thu)$")


def find_dates(text: str, today: date, *, past: bool = False) -> DateMatch | None:
    """The longest date phrase in normalized text (leftmost on ties), resolved; None if none.

    `past` says the sentence is about the past: a month or date without a year, or a bare
    weekday, then means the latest one that has already come.
    """
    anchor = Anchor(today, past)
    best: DateMatch | None = None
    for pattern, resolver in RULES:
        for match in pattern.finditer(text):
            if _AMBIGUOUS_ALONE.match(match.group(0)):
                continue
            candidate = DateMatch(match.start(), match.end(), *resolver(match, anchor))
            if candidate.date_from is None and candidate.date_to is None:
                continue
            if best is None or _better(candidate, best):
                best = candidate
    return best


def _better(candidate: DateMatch, best: DateMatch) -> bool:
    length, best_length = candidate.end - candidate.start, best.end - best.start
    return length > best_length or (length == best_length and candidate.start < best.start)


def calendar_date(phrase: str, anchor: Anchor) -> date | None:
    """A calendar date phrase; without a year, the next such day (the last, if `past`)."""
    parsed = _date_parser().get_date_data(phrase.replace(" ,", ",")).date_obj
    if parsed is None:
        return None
    day, today = parsed.date(), anchor.today
    if re.search(r"\b\d{4}\b", phrase):
        return day
    try:  # the parser's base year is a leap year, so "feb 29" parses; it may not exist now
        day = day.replace(year=today.year)
        if anchor.past:
            return day if day <= today else day.replace(year=today.year - 1)
        return day if day >= today else day.replace(year=today.year + 1)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _date_parser() -> DateDataParser:
    """English only and fixed settings: language detection is what makes dateparser slow."""
    return DateDataParser(
        languages=["en"],
        settings={
            "REQUIRE_PARTS": ["day", "month"],
            "DATE_ORDER": "MDY",
            "RELATIVE_BASE": datetime(2000, 1, 1),
        },
    )


def find_shift(text: str) -> Shift | None:
    """A step from an earlier range in normalized text ("the week after", "the next one")."""
    for pattern, forward in _SHIFTS:
        if match := pattern.search(text):
            return Shift(forward, match.groupdict().get("unit"))
    return None


def shift_span(date_from: date, date_to: date, shift: Shift) -> tuple[date, date]:
    """The range `shift` leads to from `date_from`..`date_to` (see the module's rules)."""
    step = 1 if shift.forward else -1
    if shift.unit is None:
        months = _whole_months(date_from, date_to)
        if months:
            first = _add_months(date_from, step * months)
            return first, _month_range(_add_months(first, months - 1))[1]
        days = timedelta(days=((date_to - date_from).days + 1) * step)
        return date_from + days, date_to + days
    edge = date_to if shift.forward else date_from
    if shift.unit == "day":
        day = edge + timedelta(days=step)
        return day, day
    if shift.unit == "week":
        if shift.forward:
            return edge + timedelta(days=1), edge + timedelta(days=7)
        return edge - timedelta(days=7), edge - timedelta(days=1)
    if shift.unit == "weekend":  # the Saturday..Sunday wholly after (before) the range
        if shift.forward:
            saturday = edge + timedelta(days=(5 - edge.weekday()) % 7 or 7)
        else:
            saturday = edge - timedelta(days=(edge.weekday() - 6) % 7 or 7) - timedelta(days=1)
        return saturday, saturday + timedelta(days=1)
    if shift.unit == "month":
        return _month_range(_add_months(edge.replace(day=1), step))
    year = edge.year + step
    return date(year, 1, 1), date(year, 12, 31)


def _whole_months(date_from: date, date_to: date) -> int:
    """How many calendar months `date_from`..`date_to` spans exactly (0: not whole months)."""
    if date_from.day != 1 or date_to != _month_range(date_to.replace(day=1))[1]:
        return 0
    return (date_to.year - date_from.year) * 12 + date_to.month - date_from.month + 1
