"""Reading the calendar: events, one event's summary, guest lists, a person, CSV export.

Everything here answers from the cache (refreshed first when stale) and never writes to Luma.
Long lists come a page at a time with a More button; the next page's request is parked
(`store.pending`), so the button carries only an id.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message

from bot import args
from bot.context import Ctx
from bot.conversation import remember_events, remember_person
from bot.errors import UserError
from bot.freshness import fresh_event, fresh_org
from bot.keyboards import MoreCb, more_keyboard
from bot.pressed import take_page
from bot.routers.event_choice import GONE, event_action, with_event
from bot.routers.profiles import insight_lines
from bot.texts import (
    event_line,
    event_summary,
    event_title,
    guest_line,
    guests_phrase,
    pack,
    q,
    registration_line,
    with_note,
)
from catalog import events as catalog_events
from catalog import guests as catalog_guests
from catalog.events import EventFilter
from catalog.guest_filter import GuestFilter
from catalog.guest_query import BadCursor, GuestQuery, count_guests, guest_page, prepare
from catalog.guests import csv_chunks
from intel.people import insights_for
from luma import identity_key
from nlp.dates import find_dates
from services.group_privacy import NOT_SHOWN
from store import cache, pending
from store.models import Event

EVENTS_PAGE = 15
GUESTS_PAGE = 20
PAGE_TTL = timedelta(hours=12)
FIND_ROWS = 20  # registrations a /find shows; a full page may have left someone out
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


# --- events -------------------------------------------------------------------------------


def event_filter(text: str, today: date, timezone: str) -> EventFilter:
    """`/events` words: upcoming (the default), past, all, a month, or a city."""
    words = " ".join(text.split())
    lowered = words.lower()
    if lowered in ("", "upcoming", "next", "future"):
        return EventFilter(when="upcoming", timezone=timezone)
    if lowered in ("past", "previous"):
        return EventFilter(when="past", timezone=timezone)
    if lowered == "all":
        return EventFilter(timezone=timezone)
    if match := _MONTH.match(lowered):
        try:
            first = date(int(match.group(1)), int(match.group(2)), 1)
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        except (ValueError, OverflowError):
            raise UserError(
                f"“{q(words, 20)}” is not a month; write it like 2026-03 or march."
            ) from None
        return EventFilter(date_from=first, date_to=last, timezone=timezone)
    found = find_dates(lowered, today) or find_dates(f"in {lowered}", today)
    if found is not None:
        return EventFilter(date_from=found.date_from, date_to=found.date_to, timezone=timezone)
    return EventFilter(city=words, timezone=timezone)


def _title(query: EventFilter) -> str:
    if query.city:
        return f"Events in {q(query.city, 40)}"
    if query.date_from or query.date_to:
        start = f"{query.date_from:%d %b %Y}" if query.date_from else "the start"
        end = f"{query.date_to:%d %b %Y}" if query.date_to else "now"
        return f"Events from {start} to {end}"
    return {"upcoming": "Upcoming events", "past": "Past events"}.get(query.when or "", "Events")


async def show_events(ctx: Ctx, query: EventFilter, offset: int = 0) -> None:
    note = await fresh_org(ctx)
    query.limit = 1000
    found = await catalog_events.list_events(
        ctx.session, org_id=ctx.linked_org.id, query=query, now=ctx.now()
    )
    await remember_events(ctx, query)  # "what about lisbon?" changes this list's city
    if not found:
        hint = " /events past shows earlier ones." if query.when == "upcoming" else ""
        await ctx.say(with_note(f"{_title(query)}: none.{hint}", note))
        return
    header = f"<b>{_title(query)}</b> ({len(found)})" + (f", from #{offset + 1}" if offset else "")
    lines = [event_line(event, ctx.timezone) for event in found[offset : offset + EVENTS_PAGE]]
    more = None
    if offset + EVENTS_PAGE < len(found):
        request = {"view": "events", "filter": _filter_json(query), "offset": offset + EVENTS_PAGE}
        more = await _more_button(ctx, request)
    await ctx.say(pack(header, lines, note), more)


def _filter_json(query: EventFilter) -> dict[str, Any]:
    data = asdict(query)
    for key in ("date_from", "date_to"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def _filter_from_json(data: dict[str, Any]) -> EventFilter:
    dates = {
        key: date.fromisoformat(data[key]) if data[key] else None
        for key in ("date_from", "date_to")
    }
    return EventFilter(**{**data, **dates})


async def events_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await show_events(ctx, event_filter(command.args or "", ctx.now().date(), ctx.timezone))


# --- one event ----------------------------------------------------------------------------


@event_action("summary")
async def summary(ctx: Ctx, event: Event, _: dict[str, Any]) -> None:
    note = await fresh_event(ctx, event)
    counts = await catalog_events.event_counts(ctx.session, org_id=ctx.linked_org.id, event=event)
    await ctx.say(with_note(event_summary(counts, ctx.timezone), note))


async def event_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await with_event(ctx, command.args or "", "summary", {}, usage="/event Founders Dinner")


# --- guests -------------------------------------------------------------------------------


def guest_filters(text: str) -> tuple[str, dict[str, Any]]:
    """Event words, then at most one status and one @domain (lists, counts, exports)."""
    found = args.split_filters(text)
    if len(found.statuses) > 1 or len(found.domains) > 1:
        raise UserError(
            "Give at most one status and one @domain, e.g. <code>pending @acme.com</code>."
        )
    if found.emails:
        raise UserError(f"To look up one person, use <code>/find {q(found.emails[0], 64)}</code>.")
    if found.tags:
        raise UserError(
            "Tags filter bulk changes (<code>/bulk approve Demo Day pending #vip</code>); "
            "/find shows a person's tags and the CSV export has a tags column."
        )
    return found.words, {
        "status": found.statuses[0] if found.statuses else None,
        "domain": found.domains[0] if found.domains else None,
    }


async def _guest_query(ctx: Ctx, event: Event, filters: dict[str, Any]) -> GuestQuery:
    """The parked `filters` (a status, a domain) as the product's one guest filter."""
    status, domain = filters.get("status"), filters.get("domain")
    return await prepare(
        ctx.session,
        org_id=ctx.linked_org.id,
        event_id=event.luma_event_id,
        guest_filter=GuestFilter(
            statuses=[status] if status else [], domains=[domain] if domain else []
        ),
        rules=await ctx.vip_rules(),
    )


@event_action("guests")
async def guests(ctx: Ctx, event: Event, filters: dict[str, Any]) -> None:
    note = await fresh_event(ctx, event)
    await show_guest_page(ctx, event, filters, cursor=None, note=note)


async def show_guest_page(
    ctx: Ctx,
    event: Event,
    filters: dict[str, Any],
    *,
    cursor: str | None,
    shown: int = 0,
    note: str = "",
) -> None:
    query = await _guest_query(ctx, event, filters)
    try:
        page = await guest_page(ctx.session, query, after=cursor, limit=GUESTS_PAGE)
    except BadCursor:
        raise UserError("This list has expired; please ask again.") from None
    phrase = guests_phrase(page.total, filters.get("status"), filters.get("domain"))
    if not page.total:
        await ctx.say(with_note(f"{event_title(event)}: {phrase}.", note))
        return
    if not ctx.access.may_see_personal_data:  # a group's non-member: the count, no names
        await ctx.say(with_note(f"{event_title(event)}: {phrase}. {NOT_SHOWN}", note))
        return
    ctx.access.require_personal_data()  # a member in a public group: privately
    header = f"{event_title(event)}: {phrase}" + (f", from #{shown + 1}" if shown else "")
    lines = [guest_line(guest, with_status=not filters.get("status")) for guest in page.guests]
    more = None
    if page.next_cursor:
        request = {
            "view": "guests",
            "event_id": event.luma_event_id,
            "filters": filters,
            "cursor": page.next_cursor,
            "shown": shown + len(page.guests),
        }
        more = await _more_button(ctx, request)
    await ctx.say(pack(header, lines, note), more)


async def guests_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words, filters = guest_filters(command.args or "")
    await with_event(ctx, words, "guests", filters, usage="/guests Founders Dinner pending")


async def pending_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words, filters = guest_filters(command.args or "")
    filters["status"] = "pending_approval"
    await with_event(ctx, words, "guests", filters, usage="/pending Founders Dinner")


@event_action("count")
async def count(ctx: Ctx, event: Event, filters: dict[str, Any]) -> None:
    note = await fresh_event(ctx, event)
    total = await count_guests(ctx.session, await _guest_query(ctx, event, filters))
    phrase = guests_phrase(total, filters.get("status"), filters.get("domain"))
    await ctx.say(with_note(f"{event_title(event)}: <b>{phrase}</b>.", note))


# --- a person -----------------------------------------------------------------------------


async def find_person(ctx: Ctx, who: str) -> None:
    """Everyone matching an email or a name, with their registrations across events."""
    ctx.access.require_personal_data()
    who = " ".join(who.split())
    if not who:
        raise UserError(
            "Who should I look for? For example: <code>/find ada@example.com</code> "
            "or <code>/find Ada</code>."
        )
    if "@" in who:
        who = identity_key(args.email(who))
    org_id = ctx.linked_org.id
    rows = await catalog_guests.person_history(ctx.session, org_id=org_id, who=who, limit=FIND_ROWS)
    if not rows:
        raise UserError(f"I found no guest matching “{q(who, 80)}” in this calendar's events.")
    insights = await insights_for(
        ctx.session,
        org_id=org_id,
        emails={guest.normalized_email for guest, _ in rows},
        rules=await ctx.vip_rules(),
    )
    # One entry per person (identity key): their addresses' registrations together.
    people: dict[str, list[str]] = {}
    for guest, event in rows:
        if guest.normalized_email not in people:
            name = q(guest.name, 48) if guest.name else "<i>no name</i>"
            people[guest.normalized_email] = [
                f"<b>{name}</b> — {q(guest.email, 64)}",
                *insight_lines(insights[guest.normalized_email]),
            ]
        people[guest.normalized_email].append(registration_line(guest, event, ctx.timezone))
    # "approve her" next means this person, only if the answer was surely about one, and
    # only where it was read: a preview in a public group must not show whom it went privately.
    whole = "@" in who or len(rows) < FIND_ROWS
    here = ctx.answer_chat == ctx.chat_id
    one = rows[0][0].email if len(people) == 1 and whole and here else None
    events = {event.luma_event_id: event for _, event in rows if event is not None}
    await remember_person(ctx, one, list(events.values()))
    await ctx.say(pack("", [line for lines in people.values() for line in lines]))


async def find_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await find_person(ctx, command.args or "")


# --- export -------------------------------------------------------------------------------


@event_action("export")
async def export(ctx: Ctx, event: Event, filters: dict[str, Any]) -> None:
    ctx.access.require_personal_data()
    note = await fresh_event(ctx, event)
    query = await _guest_query(ctx, event, filters)
    total = await count_guests(ctx.session, query)
    # The file is built from the same keyset stream as the API's export: batch by batch,
    # never every guest as an ORM object at once.
    data = io.BytesIO()
    async for chunk in csv_chunks(ctx.deps.sessions, query, rules=await ctx.vip_rules()):
        data.write(chunk.encode())
    slug = re.sub(r"[^a-z0-9]+", "-", event.name.lower()).strip("-")[:50] or "guests"
    phrase = guests_phrase(total, filters.get("status"), filters.get("domain"))
    caption = with_note(f"{event_title(event)}: {phrase}", note)
    document = BufferedInputFile(data.getvalue(), filename=f"{slug}.csv")
    await ctx.session.commit()
    # The caption is bounded: the title is clipped, the rest is ours.
    await ctx.deliver(lambda chat_id: ctx.bot.send_document(chat_id, document, caption=caption))


async def export_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words, filters = guest_filters(command.args or "")
    await with_event(ctx, words, "export", filters, usage="/export Founders Dinner approved")


# --- paging -------------------------------------------------------------------------------


async def _more_button(ctx: Ctx, request: dict[str, Any]) -> InlineKeyboardMarkup:
    pending_id = await pending.park(
        ctx.session,
        org_id=ctx.linked_org.id,
        chat_id=ctx.answer_chat,  # the button is pressed where the page went
        user_id=ctx.user_id,
        kind="page",
        payload=request,
        ttl=PAGE_TTL,
    )
    return more_keyboard(pending_id)


async def more(query: CallbackQuery, callback_data: MoreCb, ctx: Ctx) -> None:
    org = ctx.linked_org
    request = await take_page(query, ctx, action_id=callback_data.id, kind="page")
    if request is None:
        return
    if request["view"] == "events":
        await show_events(ctx, _filter_from_json(request["filter"]), request["offset"])
        return
    event = await cache.get_event(ctx.session, org_id=org.id, luma_event_id=request["event_id"])
    if event is None:
        raise UserError(GONE)
    await show_guest_page(
        ctx, event, request["filters"], cursor=request["cursor"], shown=request["shown"]
    )


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="events")
    router.message.register(events_command, Command("events"), flags={"linked": True})
    router.message.register(event_command, Command("event"), flags={"linked": True})
    router.message.register(guests_command, Command("guests"), flags={"linked": True})
    router.message.register(pending_command, Command("pending"), flags={"linked": True})
    router.message.register(find_command, Command("find"), flags={"linked": True})
    router.message.register(export_command, Command("export"), flags={"linked": True})
    router.callback_query.register(more, MoreCb.filter(), flags={"linked": True})
    return router
