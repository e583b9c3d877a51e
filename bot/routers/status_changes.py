"""Approving and declining guests: one by one or in bulk, always previewed, then confirmed.

Nothing is written to Luma until an admin presses Confirm. The preview parks the change
(`store.pending`) and the buttons carry only its id; taking it is one-shot, so a double press
cannot start anything twice (and bulk jobs are idempotent by workflow id anyway). What a
change checks, starts, audits and counts is the application layer's (`services.guest_status`,
`services.bulk`, `services.jobs`); this module asks, previews, and shows the outcome.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import args
from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.freshness import fresh_event
from bot.keyboards import Choice, JobCb, PendingCb, confirm_keyboard
from bot.middlewares.errors import friendly
from bot.pressed import ask_again, take_pressed
from bot.progress import Watched, job_title
from bot.routers.event_choice import event_action, offer_events, with_event
from bot.texts import (
    ING_VERBS,
    PAST_VERBS,
    VERBS,
    event_title,
    guest_line,
    pack,
    q,
    with_note,
)
from catalog.guest_filter import GuestFilter
from catalog.guests import person_history
from luma import identity_key
from services import bulk, guest_status, jobs
from services.automations import ControlAction
from services.caller import Refusal
from store import cache, pending
from store.models import Event, Guest

SAMPLE = 5
EXPIRED = "This confirmation has expired or was already used; please ask again."


# --- one guest ----------------------------------------------------------------------------


async def ask_status_change(ctx: Ctx, email: str, event_words: str, target: str) -> None:
    """Preview approving/declining one guest; without an event, find where they registered."""
    await ctx.access.require_guest_writer()
    change = {"email": email, "target": target}
    if event_words.strip():
        usage = f"/{VERBS[target].lower()} {q(email, 64)} Founders Dinner"
        await with_event(ctx, event_words, "set_status", change, usage=usage)
        return
    rows = await person_history(ctx.session, org_id=ctx.linked_org.id, who=identity_key(email))
    events = list({event.luma_event_id: event for _, event in rows if event is not None}.values())
    if not events:
        raise UserError(
            f"{q(email, 64)} is not on any guest list I know. Name the event too: "
            f"<code>/{VERBS[target].lower()} {q(email, 64)} Founders Dinner</code>."
        )
    if len(events) == 1:
        await preview_status(ctx, events[0], change)
        return
    await offer_events(
        ctx,
        events,
        "set_status",
        change,
        f"{q(email, 64)} registered for several events: which one?",
    )


async def _cached_guest(ctx: Ctx, event: Event, email: str) -> Guest | None:
    rows = await cache.guests_by_email(
        ctx.session, org_id=ctx.linked_org.id, normalized_email=identity_key(email)
    )
    return next((guest for guest in rows if guest.luma_event_id == event.luma_event_id), None)


@event_action("set_status", writes=True)
async def preview_status(ctx: Ctx, event: Event, change: dict[str, Any]) -> None:
    await ctx.access.require_guest_writer()
    note = await fresh_event(ctx, event)
    email, target = change["email"], change["target"]
    guest = await _cached_guest(ctx, event, email)
    if guest is None:
        raise UserError(
            f"{q(email, 64)} is not on the guest list of {event_title(event)}. "
            f"<code>/find {q(email, 64)}</code> shows where they registered."
        )
    if guest.approval_status == target:
        await ctx.say(
            f"{guest_line(guest)}\nis already {target} for {event_title(event)}; nothing to change."
        )
        return
    refund_choice = target == "declined" and guest.is_paid
    pending_id = await _park(
        ctx, "set_status", {**change, "event_id": event.luma_event_id, "event_name": event.name}
    )
    text = f"{VERBS[target]} this guest for {event_title(event)}?\n{guest_line(guest)}"
    if refund_choice:
        text += "\nThey paid for a ticket: should it be refunded?"
    await ctx.say(with_note(text, note), confirm_keyboard(pending_id, refund_choice=refund_choice))


async def _apply_status(
    ctx: Ctx, message: Message, change: dict[str, Any], refund: bool | None
) -> None:
    target, email = change["target"], change["email"]
    title = f"<b>{q(change['event_name'], 100)}</b>"
    await message.edit_text(f"{ING_VERBS[target]} {q(email, 64)} for {title}…")
    result = await guest_status.set_guest_status(
        await caller_of(ctx),
        automations=ctx.deps.automations,
        event_id=change["event_id"],
        email=email,
        target_status=target,
        should_refund=refund,
    )
    who = f"{q(result.name, 48)} ({q(result.email, 64)})" if result.name else q(result.email, 64)
    if result.changed:
        await ctx.edit(message, f"{PAST_VERBS[target]} {who} for {title}.")
    else:
        await ctx.edit(
            message, f"{who} was already {q(result.before)} for {title}; nothing changed."
        )


async def status_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    target = args.TARGETS[command.command.lower()]
    email_word, _, event_words = (command.args or "").strip().partition(" ")
    if not email_word:
        example = f"/{command.command.lower()} ada@example.com Founders Dinner"
        raise UserError(f"Whom? For example: <code>{example}</code>.")
    await ask_status_change(ctx, args.email(email_word), event_words, target)


# --- bulk ---------------------------------------------------------------------------------


async def ask_bulk(ctx: Ctx, target: str, filters: args.Filters) -> None:
    await ctx.access.require_guest_writer()
    if filters.empty:
        raise UserError(
            "Say which guests: a status (pending, waitlist…), an @domain, emails or a #tag, e.g. "
            "<code>/bulk approve Founders Dinner pending @acme.com</code>."
        )
    request = {
        "target": target,
        "filter": asdict(
            GuestFilter(filters.statuses, filters.domains, filters.emails, tags=filters.tags)
        ),
    }
    await with_event(
        ctx, filters.words, "bulk", request, usage="/bulk approve Founders Dinner pending"
    )


@event_action("bulk", writes=True)
async def preview_bulk(ctx: Ctx, event: Event, request: dict[str, Any]) -> None:
    """How many guests would change, a sample of them, and the Confirm / Cancel buttons."""
    await ctx.access.require_guest_writer()
    note = await fresh_event(ctx, event)
    target = request["target"]
    guest_filter = GuestFilter(**request["filter"])
    check = await bulk.preview_bulk(
        ctx.session,
        ctx.deps.billing,
        await caller_of(ctx),
        bulk.BulkRequest(event.luma_event_id, target, guest_filter),
        sample_size=SAMPLE,
        refund_choice_follows=True,  # the Confirm buttons ask it
        vip_defaults=ctx.deps.vip_rules,
    )
    preview, changing = check.preview, check.guests
    described = args.Filters(
        "", guest_filter.statuses, guest_filter.domains, guest_filter.emails, guest_filter.tags
    ).describe()
    lines = []
    if preview.already:
        lines.append(f"{preview.already} already {target} will be left as they are.")
    if preview.unknown_emails:
        missing = ", ".join(q(email, 64) for email in preview.unknown_emails)
        lines.append("Not on the guest list: " + missing)
    if not changing:
        await ctx.say(
            with_note(pack(f"Nothing to do for {event_title(event)} ({described}).", lines), note)
        )
        return
    if check.over_plan is not None:  # refused here, before anyone is offered a Confirm button
        raise check.over_plan
    paid = preview.needs_refund_choice > 0
    if paid:
        lines.append("Some of them paid for tickets: should those be refunded?")
    parked = {"event_id": event.luma_event_id, "event_name": event.name}
    pending_id = await _park(ctx, "bulk", {**request, **parked})
    header = (
        f"{VERBS[target]} <b>{changing}</b> guest(s) of {event_title(event)} ({described})?"
        + ("\nFor example:" if changing > SAMPLE else "")
    )
    sample = [guest_line(guest) for guest in preview.sample]
    await ctx.say(
        with_note(pack(header, [*sample, *lines]), note),
        confirm_keyboard(pending_id, refund_choice=paid),
    )


async def _start_bulk(
    ctx: Ctx, message: Message, request: dict[str, Any], refund: bool | None
) -> None:
    started = await bulk.start_bulk(
        await caller_of(ctx),
        bulk.BulkRequest(
            event_id=request["event_id"],
            target_status=request["target"],
            guest_filter=GuestFilter(**request["filter"]),
            should_refund=refund,
            event_name=request["event_name"],
            message_id=message.message_id,
        ),
        sessions=ctx.deps.sessions,
        automations=ctx.deps.automations,
        billing=ctx.deps.billing,
        vip_defaults=ctx.deps.vip_rules,
    )
    title = job_title(request["target"], request["event_name"])
    starting = (
        "This job was already running; following it here."
        if started.job.already_running
        else "Starting…"
    )
    await message.edit_text(f"{title}\n{starting}")
    ctx.deps.progress.watch(
        Watched(
            ctx.bot,
            ctx.chat_id,
            message.message_id,
            started.job.workflow_id,
            title,
            translate=ctx.translator(),
        )
    )


async def bulk_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    verb, _, rest = (command.args or "").strip().partition(" ")
    await ask_bulk(ctx, args.target(verb), args.split_filters(rest))


# --- the buttons --------------------------------------------------------------------------


async def _park(ctx: Ctx, kind: str, payload: dict[str, Any]) -> str:
    return await pending.park(
        ctx.session,
        org_id=ctx.linked_org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        kind=kind,
        payload=payload,
        language=ctx.language,
    )


async def decided(query: CallbackQuery, callback_data: PendingCb, ctx: Ctx) -> None:
    pressed = await take_pressed(
        query, ctx, action_id=callback_data.id, kinds=("set_status", "bulk"), expired=EXPIRED
    )
    if pressed is None:
        return
    parked, message = pressed
    if callback_data.choice is Choice.CANCEL:
        await query.answer("Cancelled")
        await ctx.edit(message, "Cancelled; nothing was changed.")
        return
    await query.answer()
    refund = {Choice.REFUND: True, Choice.KEEP: False}.get(callback_data.choice)
    question, buttons = message.html_text, message.reply_markup
    try:
        if parked.kind == "set_status":
            await _apply_status(ctx, message, parked.payload, refund)
        else:
            await _start_bulk(ctx, message, parked.payload, refund)
    except Refusal as refusal:  # the press was answered: refuse in its message
        await ctx.edit(message, f"Nothing was changed: {friendly(refusal)}")
    except Exception as error:  # a service is down: the same Confirm works once it is back
        await ask_again(ctx, parked, message, question, buttons, error)


async def job_control(query: CallbackQuery, callback_data: JobCb, ctx: Ctx) -> None:
    """Pause / Resume / Cancel on a job's live message; a refusal is the press's alert."""
    workflow_id = callback_data.workflow_id
    action: ControlAction = callback_data.action.value
    await jobs.control_job(
        await caller_of(ctx),
        workflow_id,
        action,
        sessions=ctx.deps.sessions,
        automations=ctx.deps.automations,
    )
    await query.answer({"pause": "Paused", "resume": "Resumed", "cancel": "Cancelling"}[action])
    message = query.message
    if isinstance(message, Message) and not ctx.deps.progress.watching(workflow_id):
        # The bot restarted since the job began: pick the live message up again, title and all.
        title = (message.html_text or "Bulk job").split("\n", 1)[0]
        ctx.deps.progress.watch(
            Watched(ctx.bot, ctx.chat_id, message.message_id, workflow_id, title)
        )
    ctx.deps.progress.poke(workflow_id)


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="status_changes")
    router.message.register(
        status_command, Command("approve", "decline"), flags={"linked": True, "guest_writer": True}
    )
    router.message.register(
        bulk_command, Command("bulk"), flags={"linked": True, "guest_writer": True}
    )
    router.callback_query.register(
        decided, PendingCb.filter(), flags={"linked": True, "guest_writer": True}
    )
    router.callback_query.register(
        job_control, JobCb.filter(), flags={"linked": True, "guest_writer": True}
    )
    return router
