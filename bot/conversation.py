"""The bot's side of conversation context: recall a person's last turn, remember this one.

An answer about an event and a filter (a count, a list, a summary, an export, a bulk preview,
by command, plain language or a button) is remembered as the turn "them" and "and the
waitlisted ones?" refer to; a list of events by city or dates is remembered too, and so is a
`/find` answer: about one person, their email (and their one event, if they registered for
one) is what "approve her" means; about several, nothing is (a find answer replaces the turn
before it, so "approve them" never reaches back past it). Turns are per chat and person
(`store.conversation`), read only in the org the update works in, never for someone that
org removed, and forgotten after `CONTEXT_MINUTES`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.context import Ctx
from catalog.events import EventFilter
from nlp.followup import PreviousTurn
from nlp.intent import GuestStatus, IntentName
from store import conversation
from store.models import Event

# Event actions (bot.routers.event_choice) whose answer is about an event's guests.
ACTION_INTENTS = {
    "summary": IntentName.EVENT_SUMMARY,
    "count": IntentName.COUNT_GUESTS,
    "guests": IntentName.LIST_GUESTS,
    "export": IntentName.EXPORT,
    "bulk": IntentName.BULK_STATUS,
}


def _ttl(ctx: Ctx) -> timedelta:
    return timedelta(minutes=ctx.deps.settings.context_minutes)


async def recall(ctx: Ctx) -> PreviousTurn | None:
    """This person's last turn in this chat and org, while it is remembered."""
    if ctx.org is None or ctx.removed:
        return None
    row = await conversation.last_turn(
        ctx.session,
        org_id=ctx.org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        since=ctx.now() - _ttl(ctx),
    )
    if row is None:
        return None
    return PreviousTurn.from_slots(row.intent, row.slots, guests=row.result is not None)


async def remember(ctx: Ctx, turn: PreviousTurn) -> None:
    """Save `turn` as this person's last one here (in the update's session)."""
    if ctx.org is None or ctx.removed:
        return
    result = None
    if turn.has_guests:  # the result set's reference: which event, which filter
        result = {
            "event_id": turn.event_id,
            "statuses": [turn.status.value] if turn.status else [],
            "domains": [turn.domain] if turn.domain else [],
            "tags": [turn.tag] if turn.tag else [],
        }
    await conversation.save_turn(
        ctx.session,
        org_id=ctx.org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        intent=turn.intent.value,
        slots=turn.slots(),
        result=result,
        now=ctx.now(),
    )


async def remember_event_answer(ctx: Ctx, action: str, event: Event, args: dict[str, Any]) -> None:
    """After an event action answered: remember it if it was about the event's guests."""
    intent = ACTION_INTENTS.get(action)
    if intent is None:
        return
    status, domain, tag, exact = _filter_of(args)
    await remember(
        ctx,
        PreviousTurn(
            intent=intent,
            event=event.name,
            event_id=event.luma_event_id,
            status=status,
            domain=domain,
            tag=tag,
            guests=exact,
        ),
    )


async def remember_events(ctx: Ctx, query: EventFilter) -> None:
    """After a list of events: its city and dates are what "what about lisbon?" changes."""
    await remember(
        ctx,
        PreviousTurn(
            intent=IntentName.LIST_EVENTS,
            city=query.city,
            date_from=query.date_from,
            date_to=query.date_to,
        ),
    )


async def remember_person(ctx: Ctx, email: str | None, events: list[Event]) -> None:
    """After a `/find` answer: the one person it was about (`email`; None when it was about
    several), and their event when they registered for exactly one."""
    event = events[0] if email and len(events) == 1 else None
    if ctx.org is not None:  # people's emails in turns nobody can read any more: gone
        await conversation.forget_stale_people(
            ctx.session, org_id=ctx.org.id, before=ctx.now() - _ttl(ctx)
        )
    await remember(
        ctx,
        PreviousTurn(
            intent=IntentName.FIND_GUEST,
            event=event.name if event else None,
            event_id=event.luma_event_id if event else None,
            email=email,
        ),
    )


def _filter_of(
    args: dict[str, Any],
) -> tuple[GuestStatus | None, str | None, str | None, bool]:
    """The one status, domain and tag of an action's filter; `exact` is False when the filter
    holds more than a turn can (several statuses, emails): then "them" means nothing."""
    if "filter" not in args:  # reads: {"status", "domain"}
        status = args.get("status")
        return _status(status), args.get("domain"), None, True
    parts = args["filter"]
    statuses, domains, tags = (
        parts.get("statuses", []),
        parts.get("domains", []),
        parts.get("tags", []),
    )
    exact = (
        len(statuses) <= 1
        and len(domains) <= 1
        and len(tags) <= 1
        and not parts.get("emails")
        and not parts.get("answer_label")
    )
    if not exact:
        return None, None, None, False
    return (
        _status(statuses[0] if statuses else None),
        domains[0] if domains else None,
        tags[0] if tags else None,
        True,
    )


def _status(value: str | None) -> GuestStatus | None:
    try:
        return GuestStatus(value) if value else None
    except ValueError:
        return None
