"""Naming an event: exact or fuzzy over the cache, or buttons to choose when it is ambiguous.

Every feature that works on one event registers an *event action* here. A command or a
plain-language request resolves the event through `with_event`; when several events fit,
the request is parked (`store.pending`) and the buttons carry only its id, so the press
runs the same action with the chosen event, however long the original request was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.context import Ctx
from bot.conversation import remember_event_answer
from bot.errors import UserError
from bot.freshness import fresh_org
from bot.keyboards import PickCb, pick_keyboard
from bot.texts import chosen_by_rule, event_title, q, when
from catalog.events import resolve_event
from store import cache, pending
from store.models import Event

EventAction = Callable[[Ctx, Event, dict[str, Any]], Awaitable[None]]
MAX_CHOICES = 8
EXPIRED = "This choice has expired or was already made; please ask again."
GONE = "That event is no longer in this calendar; /events lists the current ones."

_actions: dict[str, EventAction] = {}
_writes: set[str] = set()


def event_action(name: str, *, writes: bool = False) -> Callable[[EventAction], EventAction]:
    """Register a feature's action on one event under a stable name (kept in parked rows).

    A `writes` action (approve/decline, bulk, follow-ups) never runs on a name several events
    share without the user choosing one; a read takes the next upcoming one and says so.
    """

    def register(action: EventAction) -> EventAction:
        _actions[name] = action
        if writes:
            _writes.add(name)
        return action

    return register


async def live_events(ctx: Ctx) -> Sequence[Event]:
    """The org's events, read once per update (plain language resolves names twice)."""
    if ctx.events is None:
        ctx.events = await cache.list_events(ctx.session, org_id=ctx.linked_org.id)
    return ctx.events


async def with_event(
    ctx: Ctx, words: str, action: str, args: dict[str, Any], *, usage: str
) -> None:
    """Run `action` on the event `words` name, or ask which one; `usage` shows how to name it."""
    if not words.strip():
        raise UserError(f"Which event? For example: <code>{usage}</code>. /events lists them.")
    await fresh_org(ctx)
    match = resolve_event(await live_events(ctx), words, now=ctx.now(), writes=action in _writes)
    if match.event is not None:
        if match.how == "rule" and match.rule is not None:
            await ctx.say(chosen_by_rule(match.event, match.rule, match.others, ctx.timezone))
        await run_action(ctx, action, match.event, args)
    elif match.ambiguous:
        names = {event.name.casefold() for event in match.candidates}
        question = (
            f"{len(match.candidates)} events are called “{q(match.candidates[0].name, 80)}”: "
            "which one?"
            if len(names) == 1
            else "Which event do you mean?"
        )
        await offer_events(ctx, match.candidates, action, args, question)
    else:
        raise UserError(
            f"I could not find an event called “{q(words, 80)}”. /events lists the ones I know."
        )


async def offer_events(
    ctx: Ctx,
    events: Sequence[Event],
    action: str,
    args: dict[str, Any],
    question: str = "Which event do you mean?",
) -> None:
    """Ask with one button per event; the press runs `action` with the chosen one."""
    shown = list(events)[:MAX_CHOICES]
    pending_id = await pending.park(
        ctx.session,
        org_id=ctx.linked_org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        kind="pick",
        payload={"action": action, "args": args, "events": [e.luma_event_id for e in shown]},
        language=ctx.language,
    )
    labels = [
        f"{event.name} · {when(event.start_at, event.timezone or ctx.timezone, with_time=False)}"
        + (f" · {event.city}" if event.city else "")
        for event in shown
    ]
    await ctx.say(question, pick_keyboard(pending_id, labels))


async def picked(query: CallbackQuery, callback_data: PickCb, ctx: Ctx) -> None:
    org = ctx.linked_org
    parked = await pending.take(ctx.session, action_id=callback_data.id, chat_id=ctx.chat_id)
    if parked is None or parked.kind != "pick" or parked.org_id != org.id:
        await query.answer(EXPIRED, show_alert=True)
        return
    await ctx.session.commit()  # taken for good, whatever happens next
    ctx.language = parked.language  # answered in the language the question was asked in
    event_ids: list[str] = parked.payload["events"]
    if not 0 <= callback_data.index < len(event_ids):
        raise UserError(EXPIRED)
    event = await cache.get_event(
        ctx.session, org_id=org.id, luma_event_id=event_ids[callback_data.index]
    )
    if event is None or event.gone_at is not None:
        raise UserError(GONE)
    await query.answer()
    if isinstance(query.message, Message):
        await ctx.edit(query.message, f"Event: {event_title(event)}")
    await run_action(ctx, parked.payload["action"], event, parked.payload["args"])


async def run_action(ctx: Ctx, action: str, event: Event, args: dict[str, Any]) -> None:
    """Run `action` on `event`; an answer about its guests is remembered for follow-ups,
    committed with the answer (`Ctx.say`), so the next message already finds it."""
    await remember_event_answer(ctx, action, event, args)
    await _actions[action](ctx, event, args)


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="event_choice")
    router.callback_query.register(picked, PickCb.filter(), flags={"linked": True})
    return router
