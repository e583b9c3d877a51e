"""Post-event follow-up emails: `/followup <event> attended|no-shows|all` and `/unsubscribe`.

The command drafts the email (the default wording for the audience, or the organizer's own
text) and shows how many people it would reach; nothing is sent until an admin presses Send.
The draft is parked (`store.pending`) and the buttons carry only its id, which also becomes
the campaign id: taking the draft is one-shot and the workflow id is derived from it, so a
double press sends nothing twice. Edit asks for the new text as the next message (an FSM
state; /cancel leaves it), then shows the new draft with the same three buttons.

The rules (admins only, mail configured, the event over, whom it reaches, the audit row) are
`services.followups`'s; this router drafts, parks and renders.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import args
from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.filters import Text
from bot.freshness import fresh_event
from bot.pressed import ask_again, take_pressed
from bot.routers.event_choice import GONE, event_action, with_event
from bot.texts import event_title, q, with_note
from mailer import drafts
from services import followups
from services.caller import Refusal
from store import cache, pending
from store.models import Event

USAGE = "/followup Founders Dinner attended"
EXPIRED = "This draft has expired or was already used; run /followup again."
MAX_TEXT = 3000  # the draft is shown back in one Telegram message


class FollowupAction(StrEnum):
    SEND = "send"
    EDIT = "edit"
    CANCEL = "cancel"


class FollowupCb(CallbackData, prefix="fu"):
    """Send, Edit or Cancel a parked follow-up draft."""

    action: FollowupAction
    id: str


class FollowupStates(StatesGroup):
    text = State()  # waiting for the organizer's own wording


def followup_keyboard(pending_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for label, action in (
        ("Send", FollowupAction.SEND),
        ("Edit", FollowupAction.EDIT),
        ("Cancel", FollowupAction.CANCEL),
    ):
        builder.button(text=label, callback_data=FollowupCb(action=action, id=pending_id))
    builder.adjust(3)
    return builder.as_markup()


def split_audience(text: str) -> tuple[str, str]:
    """`Founders Dinner no-shows` -> ("Founders Dinner", "no-shows")."""
    words = text.split()
    if not words:
        raise UserError(
            f"Which event, and whom? For example: <code>{USAGE}</code> (or no-shows, or all)."
        )
    audience = followups.audience_of(words[-1])
    if audience is None:
        raise UserError(
            "Say whom to write to after the event's name: attended, no-shows or all. "
            f"For example: <code>{USAGE}</code>."
        )
    if len(words) == 1:
        raise UserError(f"Which event? For example: <code>{USAGE}</code>. /events lists them.")
    return " ".join(words[:-1]), audience


async def followup_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    followups.require_mail(ctx.deps.settings.mail_backend)
    words, audience = split_audience(command.args or "")
    await with_event(ctx, words, "followup", {"audience": audience}, usage=USAGE)


def draft_text(event: Event, audience: str, draft: drafts.Draft, count: int, opted: int) -> str:
    who = drafts.AUDIENCE_LABELS[audience]
    left_out = f" ({opted} unsubscribed, left out)" if opted else ""
    body = drafts.render(draft.body, name="{first_name}", event=event.name)
    subject = draft.subject.replace("{event}", event.name)
    return (
        f"Follow-up email to <b>{count}</b> {who} of {event_title(event)}{left_out}.\n"
        f"<b>Subject:</b> {q(subject, 200)}\n\n"
        f"{html.quote(body)}\n\n"
        "<i>{first_name} becomes each guest's first name; an unsubscribe link is added.</i>"
    )


@event_action("followup", writes=True)
async def draft_followup(ctx: Ctx, event: Event, request: dict[str, Any]) -> None:
    """The draft, how many it reaches, and Send / Edit / Cancel."""
    caller = await caller_of(ctx)
    caller.require_admin()
    followups.require_ended(event)  # before refreshing it from Luma: that costs a call
    note = await fresh_event(ctx, event)
    audience = request["audience"]
    default = drafts.DEFAULT_DRAFTS[audience]
    draft = drafts.Draft(request.get("subject", default.subject), request.get("body", default.body))
    reach = await followups.reach(caller, ctx.session, event=event, audience=audience)
    count = reach.count
    if count == 0:
        who = drafts.AUDIENCE_LABELS[audience]
        why = " (everyone else unsubscribed)" if reach.unsubscribed else ""
        await ctx.say(with_note(f"No {who} of {event_title(event)} to write to{why}.", note))
        return
    pending_id = await pending.park(
        ctx.session,
        org_id=caller.org_id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        kind="followup",
        payload={
            "event_id": event.luma_event_id,
            "event_name": event.name,
            "audience": audience,
            "subject": draft.subject,
            "body": draft.body,
            "count": count,
        },
    )
    await ctx.say(
        with_note(draft_text(event, audience, draft, count, reach.unsubscribed), note),
        followup_keyboard(pending_id),
    )


async def followup_pressed(
    query: CallbackQuery, callback_data: FollowupCb, ctx: Ctx, state: FSMContext
) -> None:
    pressed = await take_pressed(
        query, ctx, action_id=callback_data.id, kinds=("followup",), expired=EXPIRED
    )
    if pressed is None:
        return
    parked, message = pressed
    draft = parked.payload
    title = f"<b>{q(draft['event_name'], 100)}</b>"
    if callback_data.action is FollowupAction.CANCEL:
        await query.answer("Cancelled")
        await message.edit_text(f"Follow-up for {title} cancelled; no email was sent.")
        return
    await query.answer()
    if callback_data.action is FollowupAction.EDIT:
        await state.set_state(FollowupStates.text)
        await state.update_data(followup=draft)
        await message.edit_text(
            f"Send me the new text of the follow-up for {title} as your next message "
            "(in a group, reply to this message). {first_name} and {event} are filled in "
            "for each guest; a first line <code>Subject: …</code> sets the subject. "
            "/cancel keeps nothing."
        )
        return
    question, buttons = message.html_text, message.reply_markup
    try:
        started = await followups.start(
            await caller_of(ctx),
            ctx.session,
            ctx.deps.automations,
            mail=ctx.deps.settings.mail_backend,
            campaign_id=parked.id,
            event_id=draft["event_id"],
            event_name=draft["event_name"],
            audience=draft["audience"],
            subject=draft["subject"],
            body=draft["body"],
        )
        await ctx.session.commit()
    except Refusal:
        raise
    except Exception as error:  # a service is down: the same Send works once it is back
        await ask_again(ctx, parked, message, question, buttons, error)
        return
    who = drafts.AUDIENCE_LABELS[draft["audience"]]
    await message.edit_text(
        f"Sending the follow-up to {draft['count']} {who} of {title}… "
        f'I will post the report here. <a href="{html.quote(started.web_url)}">Follow it</a>'
    )


async def edited_text(message: Message, ctx: Ctx, state: FSMContext) -> None:
    """The organizer's own wording for the draft they pressed Edit on."""
    draft = (await state.get_data()).get("followup")
    if draft is None:
        await state.clear()
        raise UserError(EXPIRED)
    text = (message.text or "").strip()
    if len(text) > MAX_TEXT:
        raise UserError(
            f"That text is {len(text)} characters long; keep it under {MAX_TEXT}, or /cancel."
        )
    edited = drafts.from_text(text, draft["subject"])
    if not edited.body:
        raise UserError("That has a subject but no text; send the whole email, or /cancel.")
    event = await cache.get_event(
        ctx.session, org_id=ctx.linked_org.id, luma_event_id=draft["event_id"]
    )
    await state.clear()
    if event is None or event.gone_at is not None:
        raise UserError(GONE)
    request = {"audience": draft["audience"], "subject": edited.subject, "body": edited.body}
    await draft_followup(ctx, event, request)


async def unsubscribe_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    raw = (command.args or "").strip()
    if not raw or len(raw.split()) != 1:
        raise UserError(
            "Whom? For example: <code>/unsubscribe ada@example.com</code>; they will get no "
            "more follow-up emails from this calendar."
        )
    email = args.email(raw)
    added = await followups.unsubscribe(await caller_of(ctx), ctx.session, email=email)
    if added:
        await ctx.say(f"{q(email, 64)} will get no more follow-up emails from this calendar.")
    else:
        await ctx.say(f"{q(email, 64)} was already unsubscribed; nothing changed.")


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="followups")
    flags = {"linked": True, "admin": True}
    router.message.register(followup_command, Command("followup"), flags=flags)
    router.message.register(unsubscribe_command, Command("unsubscribe"), flags=flags)
    router.message.register(edited_text, FollowupStates.text, Text(command=False), flags=flags)
    router.callback_query.register(followup_pressed, FollowupCb.filter(), flags=flags)
    return router
