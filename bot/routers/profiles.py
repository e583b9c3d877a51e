"""People across events: VIPs, repeat guests, and our own tags and notes.

Tags and notes are ours: stored in our database for the chat's org, shown in /find, /vips
and exports, usable as bulk filters (#vip), and never sent to Luma. Writing them is
`services.profiles`' (the admin role, the checks, the audit row, the same as the portal's);
this router reads the command and answers. Tags and notes are kept per person (identity
key), so jane+events@gmail.com and Jane@gmail.com share them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import args
from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.freshness import fresh_event, fresh_org
from bot.pressed import take_page
from bot.routers.event_choice import event_action, with_event
from bot.texts import event_title, guest_line, pack, q, with_note
from catalog.status_words import status_display
from intel.people import (
    EventPeople,
    Insight,
    Person,
    PersonEvents,
    event_people,
    insights_for,
    upcoming_events,
)
from services import profiles
from services.caller import NotFound
from store import cache, pending
from store.models import Event

LIST_LIMIT = 30
PAGE_TTL = timedelta(hours=12)
NOTES_SHOWN = 3
SOURCES = {"answers": "from registration answers", "enrichment": "from enrichment"}


# --- rendering ----------------------------------------------------------------------------


def insight_lines(insight: Insight) -> list[str]:
    """What we know about a person beyond one registration, for /find."""
    lines = []
    if insight.company:
        source = SOURCES.get(insight.company_source or "", "from the email domain")
        lines.append(f"Company: {q(insight.company, 80)} ({source})")
    profile = insight.profile
    if profile is not None:
        repeat = " · <b>repeat guest</b>" if insight.repeat else ""
        lines.append(
            f"Events: {profile.events_registered} registered, {profile.events_attended} "
            f"attended, {profile.no_shows} no-show(s){repeat}"
        )
    vip = insight.vip
    reasons = "; ".join(q(reason, 80) for reason in vip.reasons) or "no rule applies"
    lines.append(f"VIP score: <b>{vip.score}</b>{' ⭐ VIP' if vip.is_vip else ''} — {reasons}")
    if insight.tags:
        lines.append("Tags: " + ", ".join(f"#{q(tag, 32)}" for tag in insight.tags))
    for note in insight.notes[-NOTES_SHOWN:]:
        lines.append(f"📝 {note.created_at:%d %b %Y}: {q(note.text, 300)}")
    if len(insight.notes) > NOTES_SHOWN:
        lines.append(f"(and {len(insight.notes) - NOTES_SHOWN} earlier note(s))")
    return lines


def _where(person: Person, several: bool) -> str:
    return f" · {q(person.event.name, 40)}" if several else ""


def _vip_line(person: Person, several: bool) -> str:
    reasons = ", ".join(q(reason, 60) for reason in person.insight.vip.reasons)
    return (
        f"{guest_line(person.guest)}{_where(person, several)}\n"
        f"   ⭐ {person.insight.vip.score}: {reasons}"
    )


def _repeat_line(person: PersonEvents, several: bool) -> str:
    """One repeat guest, once however many of the listed events they registered for."""
    insight = person.insight
    attended = insight.profile.events_attended if insight.profile else 0
    tags = "".join(f" #{q(tag, 32)}" for tag in insight.tags)
    where = (
        " · "
        + ", ".join(q(event.name, 40) for event in person.events[:3])
        + (f" +{len(person.events) - 3}" if len(person.events) > 3 else "")
        if several
        else ""
    )
    return (
        f"{guest_line(person.guest, with_status=not several)}{where}\n"
        f"   {insight.repeat_count} events, attended {attended}{tags}"
    )


async def _people(ctx: Ctx, event: Event | None, status: str | None) -> tuple[EventPeople, str]:
    """The people of one event (made fresh first) or of every upcoming event."""
    if event is not None:
        note = await fresh_event(ctx, event)
        events: list[Event] = [event]
    else:
        note = await fresh_org(ctx)
        events = list(await upcoming_events(ctx.session, org_id=ctx.linked_org.id))
    found = await event_people(
        ctx.session,
        org_id=ctx.linked_org.id,
        events=events,
        rules=await ctx.vip_rules(),
        status=status,
    )
    return found, note


def _scope(event: Event | None, status: str | None) -> str:
    where = event_title(event) if event is not None else "upcoming events"
    return f"{where}" + (f", {status_display(status)}" if status else "")


# --- VIPs and repeat guests -----------------------------------------------------------------


async def show_people(ctx: Ctx, event: Event | None, filters: dict[str, Any]) -> None:
    """The VIPs (`filters["kind"]` "vips") or repeat guests ("repeats") of one event, or of
    every upcoming event when `event` is None."""
    ctx.access.require_personal_data()
    status = filters.get("status")
    found, note = await _people(ctx, event, status)
    scope = _scope(event, status)
    if filters.get("kind") == "repeats":
        offset = int(filters.get("offset") or 0)
        await _show_repeats(ctx, event, status, found, note, offset=offset)
        return
    chosen = found.vips()
    rule = f"a VIP scores {(await ctx.vip_rules()).threshold}+"
    if not chosen:
        await ctx.say(with_note(f"No VIPs among {scope} ({rule}).", note))
        return
    header = f"<b>{len(chosen)} VIP(s)</b> among {scope} ({rule}):"
    lines = [_vip_line(person, event is None) for person in chosen[:LIST_LIMIT]]
    await ctx.say(pack(header, lines, note))


async def _show_repeats(
    ctx: Ctx,
    event: Event | None,
    status: str | None,
    found: EventPeople,
    note: str,
    *,
    offset: int,
) -> None:
    """Repeat guests, one line per person, a page at a time with a More button."""
    ctx.access.require_personal_data()
    scope = _scope(event, status)
    people = found.repeat_people()
    rule = f"registered for {(await ctx.vip_rules()).repeat_min_events}+ of this calendar's events"
    if not people:
        await ctx.say(with_note(f"No repeat guests among {scope} ({rule}).", note))
        return
    shown = people[offset : offset + LIST_LIMIT]
    header = f"<b>{len(people)} repeat guest(s)</b> among {scope} ({rule}):"
    if offset:
        header = (
            f"Repeat guests among {scope}, {offset + 1}–{offset + len(shown)} of {len(people)}:"
        )
    lines = [_repeat_line(person, event is None) for person in shown]
    rest = len(people) - offset - len(shown)
    footer = f"<i>{rest} more.</i>" if rest > 0 else ""
    markup = None
    if rest > 0:
        pending_id = await pending.park(
            ctx.session,
            org_id=ctx.linked_org.id,
            chat_id=ctx.answer_chat,  # the button is pressed where the page went
            user_id=ctx.user_id,
            kind="repeats_page",
            payload={
                "event_id": event.luma_event_id if event is not None else None,
                "status": status,
                "offset": offset + len(shown),
            },
            ttl=PAGE_TTL,
        )
        markup = repeats_more_keyboard(pending_id)
    await ctx.say(pack(header, lines, "\n".join(part for part in (footer, note) if part)), markup)


class RepeatsMoreCb(CallbackData, prefix="rpm"):
    """The next page of /repeats."""

    id: str


def repeats_more_keyboard(pending_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="More", callback_data=RepeatsMoreCb(id=pending_id))
    return builder.as_markup()


async def repeats_more(query: CallbackQuery, callback_data: RepeatsMoreCb, ctx: Ctx) -> None:
    """More repeat guests: the same question asked again from the next person on."""
    org = ctx.linked_org
    request = await take_page(query, ctx, action_id=callback_data.id, kind="repeats_page")
    if request is None:
        return
    event = None
    if request.get("event_id"):
        event = await cache.get_event(ctx.session, org_id=org.id, luma_event_id=request["event_id"])
        if event is None:
            raise UserError("That event is no longer in the calendar; please ask again.")
    filters = {"status": request.get("status"), "kind": "repeats", "offset": request["offset"]}
    await show_people(ctx, event, filters)


@event_action("people")
async def people_of_event(ctx: Ctx, event: Event, filters: dict[str, Any]) -> None:
    await show_people(ctx, event, filters)


async def people_request(ctx: Ctx, words: str, status: str | None, action: str) -> None:
    """VIPs or repeat guests (`action`) of the event `words` name, or of all upcoming events."""
    filters = {"status": status, "kind": action}
    if not words.strip():
        await show_people(ctx, None, filters)
        return
    await with_event(ctx, words, "people", filters, usage=f"/{action} Founders Dinner")


def _event_words_and_status(text: str) -> tuple[str, str | None]:
    found = args.split_filters(text)
    if found.domains or found.emails or found.tags or len(found.statuses) > 1:
        raise UserError(
            "Give an event and at most one status, e.g. <code>/vips Demo Day pending</code>."
        )
    return found.words, found.statuses[0] if found.statuses else None


async def vips_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words, status = _event_words_and_status(command.args or "")
    await people_request(ctx, words, status, "vips")


async def repeats_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words, status = _event_words_and_status(command.args or "")
    await people_request(ctx, words, status, "repeats")


# --- tags and notes -------------------------------------------------------------------------


@contextmanager
def _unknown_person_hint() -> Iterator[None]:
    """Someone not on any guest list is refused by `services.profiles`; here the refusal
    also says how to look people up."""
    try:
        yield
    except NotFound as exc:
        raise UserError(f"{exc.message} /find looks people up.") from None


async def _tags_now(ctx: Ctx, key: str) -> str:
    insight = (
        await insights_for(
            ctx.session,
            org_id=ctx.linked_org.id,
            emails=[key],
            rules=await ctx.vip_rules(),
            with_notes=False,
        )
    )[key]
    tags = ", ".join(f"#{q(tag, 32)}" for tag in insight.tags) or "none"
    return f"Tags now: {tags} · VIP score {insight.vip.score}"


async def tag_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await _change_tag(ctx, command, adding=True)


async def untag_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await _change_tag(ctx, command, adding=False)


async def _change_tag(ctx: Ctx, command: CommandObject, *, adding: bool) -> None:
    """`services.profiles` checks the role, the person and the tag, and audits the change."""
    usage = f"/{'tag' if adding else 'untag'} ada@example.com vip"
    parts = (command.args or "").split()
    if len(parts) != 2:
        raise UserError(
            f"Give one email and one tag, e.g. <code>{usage}</code> "
            "(tags: vip, speaker, sponsor, press, team, or any short word)."
        )
    change = profiles.tag if adding else profiles.untag
    with _unknown_person_hint():
        done = await change(await caller_of(ctx), ctx.session, email=parts[0], tag=parts[1])
    email, tag = q(done.person.email, 64), done.tag
    if adding:
        said, same = f"Tagged {email} #{tag}.", f"{email} already has #{tag}."
    else:
        said, same = f"Removed #{tag} from {email}.", f"{email} had no #{tag}."
    text = said if done.changed else f"{same} Nothing changed."
    await ctx.say(
        f"{text}\n{await _tags_now(ctx, done.person.key)}\n"
        "<i>Tags stay here; Luma never sees them.</i>"
    )


async def note_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    usage = "/note ada@example.com met at the Lisbon dinner, wants to speak"
    raw, _, text = (command.args or "").strip().partition(" ")
    if not raw:
        raise UserError(f"Whom? For example: <code>{usage}</code>.")
    with _unknown_person_hint():
        added = await profiles.add_note(await caller_of(ctx), ctx.session, email=raw, text=text)
    email = q(added.person.email, 64)
    await ctx.say(
        f"Noted for {email}. /find {email} shows their notes.\n"
        "<i>Notes stay here; Luma never sees them.</i>"
    )


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="profiles")
    router.message.register(vips_command, Command("vips"), flags={"linked": True})
    router.message.register(repeats_command, Command("repeats"), flags={"linked": True})
    router.callback_query.register(repeats_more, RepeatsMoreCb.filter(), flags={"linked": True})
    for name, handler in (("tag", tag_command), ("untag", untag_command), ("note", note_command)):
        router.message.register(handler, Command(name), flags={"linked": True, "admin": True})
    return router
