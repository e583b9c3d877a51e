"""Post-event follow-up emails: `/followup <event> attended|no-shows|all [template <name>]`
and `/unsubscribe`.

The command drafts the email (the named saved template, else the audience's default template,
else the built-in wording; or the organizer's own text after Edit), shows it filled in for a
real guest and how many people it would reach; nothing is sent until an admin presses Send.
The parked draft holds the wording's text, so editing the template afterwards changes neither
this draft nor the campaign it starts.
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
from mailer import drafts, templates
from services import followup_templates, followups
from services.caller import Refusal
from store import cache, pending
from store.models import Event

USAGE = "/followup Founders Dinner attended"
TEMPLATE_WORD = "template"  # `/followup <event> <audience> template <name>`
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


def split_audience(text: str) -> tuple[str, str, str | None]:
    """`Founders Dinner no-shows` -> ("Founders Dinner", "no-shows", None);
    `Founders Dinner all template Thanks` -> ("Founders Dinner", "all", "Thanks")."""
    words = text.split()
    template = None
    for at, word in enumerate(words):
        if word.lower() == TEMPLATE_WORD and at >= 1 and followups.audience_of(words[at - 1]):
            words, template = words[:at], " ".join(words[at + 1 :])
            if not template:
                raise UserError(
                    f"Which template? For example: <code>{USAGE} template Thank you</code>."
                )
            break
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
    return " ".join(words[:-1]), audience, template


async def followup_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await followups.require_sender(
        ctx.session, org_id=ctx.linked_org.id, backend=ctx.deps.settings.mail_backend
    )
    words, audience, template = split_audience(command.args or "")
    request: dict[str, Any] = {"audience": audience}
    if template:
        request["template"] = template
    await with_event(ctx, words, "followup", request, usage=USAGE)


def draft_text(
    event: Event,
    audience: str,
    preview: followup_templates.Preview,
    reach: followups.Reach,
    chosen: followup_templates.Chosen,
    others: list[str],
) -> str:
    who = drafts.AUDIENCE_LABELS[audience]
    left_out = f" ({reach.unsubscribed} unsubscribed, left out)" if reach.unsubscribed else ""
    lines = [f"Follow-up email to <b>{reach.count}</b> {who} of {event_title(event)}{left_out}."]
    if chosen.template:
        lines.append(f"Template: <b>{q(chosen.template, 64)}</b>")
    lines += [
        f"<b>Subject:</b> {q(preview.email.subject, 200)}\n",
        f"{html.quote(preview.email.body)}\n",
        f"<i>Shown for {q(preview.guest_name or preview.guest_email, 64)}: each guest gets "
        "their own first name, and an unsubscribe link is added.</i>",
    ]
    if others:
        names = ", ".join(q(name, 64) for name in others)
        lines.append(f"Other templates: {names} (add <code>template NAME</code> to /followup).")
    return "\n".join(lines)


@event_action("followup", writes=True)
async def draft_followup(ctx: Ctx, event: Event, request: dict[str, Any]) -> None:
    """The draft, how many it reaches, and Send / Edit / Cancel."""
    caller = await caller_of(ctx)
    caller.require_admin()
    followups.require_ended(event)  # before refreshing it from Luma: that costs a call
    note = await fresh_event(ctx, event)
    audience = request["audience"]
    if "body" in request:  # the organizer's own text, after Edit
        chosen = followup_templates.Chosen(drafts.Draft(request["subject"], request["body"]))
    else:
        chosen = await followup_templates.choose(
            caller, ctx.session, audience_name=audience, name=request.get("template")
        )
    draft = chosen.draft
    reach = await followups.reach(caller, ctx.session, event=event, audience=audience)
    count = reach.count
    if count == 0:
        who = drafts.AUDIENCE_LABELS[audience]
        why = " (everyone else unsubscribed)" if reach.unsubscribed else ""
        await ctx.say(with_note(f"No {who} of {event_title(event)} to write to{why}.", note))
        return
    # Filled in for a real guest: a placeholder this event has no value for is refused here.
    preview = await followup_templates.preview(
        caller, ctx.session, event=event, draft=draft, audience_name=audience
    )
    saved = await followup_templates.list_templates(caller, ctx.session)
    others = [t.name for t in saved if t.name != chosen.template]
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
            "template": chosen.template,
            "count": count,
        },
    )
    await ctx.say(
        with_note(draft_text(event, audience, preview, reach, chosen, others), note),
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
            "(in a group, reply to this message). Placeholders are filled in for each guest: "
            "<code>{{ first_name }}</code>, <code>{{ event_name }}</code>, "
            "<code>{{ event_date }}</code>, <code>{{ city }}</code>, <code>{{ link }}</code>; "
            "a first line <code>Subject: …</code> sets the subject. /cancel keeps nothing."
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
            template=draft.get("template"),
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
    try:
        templates.check_draft(edited)
    except templates.TemplateProblem as problem:
        raise UserError(f"{html.quote(str(problem))} Send the text again, or /cancel.") from None
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
