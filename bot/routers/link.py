"""Linking chats to Luma calendars, choosing one in a DM, roles, and control-API tokens.

The rules live in `services.linking`, `services.team` and `services.tokens`; this router
reads the command and answers. What stays here is Telegram's part of keeping a key secret:
in a group the message holding it is deleted before anything else happens (even when the
key is wrong or the sender may not link), and only a group's administrators may link it.
"""

from __future__ import annotations

import logging
import re

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.filters import Text
from bot.keyboards import Choice, UseCb, use_keyboard
from bot.pressed import take_pressed
from bot.texts import ago, clip, pack, q
from core.logs import secrets as log_secrets
from services import linking, team, tokens
from services.caller import Invalid, NotFound, Refusal
from services.group_privacy import COUNTS_ONLY_NOTE, PUBLIC_GROUP_WARNING
from services.linking import KEY_HELP, CalendarChoice, KeyRejected, Linked, Place
from store import pending
from store.link_offers import OFFER_TTL
from store.models import User, utcnow
from store.orgs import list_members

log = logging.getLogger(__name__)

GROUP_ADMINS_ONLY = "Only an administrator of this group can link it to a Luma calendar."


class LinkFlow(StatesGroup):
    waiting_for_key = State()


# --- link ---------------------------------------------------------------------------------


async def link_command(
    message: Message, command: CommandObject, ctx: Ctx, state: FSMContext
) -> None:
    key = (command.args or "").strip()
    log_secrets.add(key)
    warning = ""
    if ctx.in_group and key:
        warning = await _delete_key_message(message)
    if ctx.in_group and not await ctx.access.is_chat_admin():
        raise UserError(_sentences(GROUP_ADMINS_ONLY, warning))
    if key:
        await link_with_key(ctx, key, warning, public_group=bool(message.chat.username))
    elif ctx.in_group:
        raise UserError(
            "Send <code>/link &lt;your Luma API key&gt;</code> here (I delete that message at "
            f"once), or link in a private chat with me. The key is in {KEY_HELP}."
        )
    else:
        await state.set_state(LinkFlow.waiting_for_key)
        await ctx.say(f"Send me your Luma API key ({KEY_HELP}). /cancel stops.")


async def key_sent(message: Message, ctx: Ctx, state: FSMContext) -> None:
    await state.clear()
    key = (message.text or "").strip()
    log_secrets.add(key)
    await link_with_key(ctx, key, "")


async def _delete_key_message(message: Message) -> str:
    """Delete the message holding the key; if that fails, say what to do about it."""
    try:
        await message.delete()
    except TelegramAPIError as exc:
        log.warning("could not delete a message holding a key in chat %s: %s", message.chat.id, exc)
        return (
            "I could not delete your message with the key: please delete it yourself, and make "
            "me an administrator so I can do it next time."
        )
    return ""


async def link_with_key(ctx: Ctx, key: str, warning: str, *, public_group: bool = False) -> None:
    """Link this chat through `services.linking`; any refusal still carries the warning. A
    group is told who sees guests' details there (a public one, with a warning). An
    organization key's calendars are offered as buttons instead (`calendar_picked`)."""
    place = Place(ctx.user_id, ctx.chat_id, ctx.chat_kind, ctx.chat_title)
    deps = ctx.deps
    try:
        linked = await linking.link_calendar(
            place,
            ctx.session,
            luma=deps.luma,
            keybox=deps.keybox,
            billing=deps.billing,
            automations=deps.automations,
            key=key,
        )
    except KeyRejected as exc:
        again = f"Copy it again from {KEY_HELP} and send <code>/link &lt;key&gt;</code>."
        raise UserError(_sentences(exc.message, again, warning)) from None
    except Refusal as exc:
        raise UserError(_sentences(exc.message, warning)) from None
    if isinstance(linked, CalendarChoice):
        await ctx.say(_choice_text(linked, warning), calendar_keyboard(linked))
        return
    await ctx.say(_linked_text(ctx, linked, warning, public_group=public_group))


def _linked_text(ctx: Ctx, linked: Linked, warning: str, *, public_group: bool) -> str:
    follow_up = (
        "I am fetching its events now; try /events in a moment."
        if linked.syncing
        else "The first sync could not start yet; send /sync in a minute."
    )
    done = (
        f"Linked this chat to the Luma calendar of <b>{q(linked.name, 100)}</b> "
        f"(key {q(linked.key_fingerprint, 8)})."
    )
    privacy = ""
    if ctx.in_group:
        privacy = PUBLIC_GROUP_WARNING if public_group else COUNTS_ONLY_NOTE
    told = _sentences(done, follow_up, linked.note, warning)
    return told + (f"\n{privacy}" if privacy else "")


# --- an organization key: pick the calendar -----------------------------------------------


class LinkCalendarCb(CallbackData, prefix="lc"):
    """One calendar of an organization key's offer (`store.link_offers`), by position."""

    id: str
    index: int


def calendar_keyboard(choice: CalendarChoice) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, calendar in enumerate(choice.calendars):
        builder.button(
            text=clip(calendar.name, 60),
            callback_data=LinkCalendarCb(id=choice.offer_id, index=index),
        )
    builder.adjust(1)
    return builder.as_markup()


def _choice_text(choice: CalendarChoice, warning: str) -> str:
    ask = (
        f"This is an organization key (key {q(choice.key_fingerprint, 8)}): it opens "
        f"{len(choice.calendars)} Luma calendar(s). Which one should this chat work with? Each "
        "calendar you link becomes a calendar of its own here, and they share the "
        "organization's Luma request budget. The buttons work for you only, for "
        f"{OFFER_TTL.seconds // 60} minutes."
    )
    return _sentences(ask, warning)


async def calendar_picked(query: CallbackQuery, callback_data: LinkCalendarCb, ctx: Ctx) -> None:
    """Link the chat to the calendar pressed; only the person who sent the key may, and in a
    group only while they are one of its administrators."""
    if ctx.in_group and not await ctx.access.is_chat_admin():
        raise UserError(GROUP_ADMINS_ONLY)
    place = Place(ctx.user_id, ctx.chat_id, ctx.chat_kind, ctx.chat_title)
    deps = ctx.deps
    linked = await linking.link_offered(
        place,
        ctx.session,
        luma=deps.luma,
        keybox=deps.keybox,
        billing=deps.billing,
        automations=deps.automations,
        offer_id=callback_data.id,
        index=callback_data.index,
    )
    await query.answer()
    message = query.message
    public_group = isinstance(message, Message) and bool(message.chat.username)
    text = _linked_text(ctx, linked, "", public_group=public_group)
    if isinstance(message, Message):
        await message.edit_text(text)
    else:
        await ctx.say(text)


def _sentences(*parts: str) -> str:
    return " ".join(part for part in parts if part)


# --- unlink and /use ----------------------------------------------------------------------


UNLINK_EXPIRED = "This question has expired; send /unlink again."


class UnlinkCb(CallbackData, prefix="ul"):
    """Confirm / Cancel of a parked /unlink."""

    choice: Choice
    id: str


def unlink_keyboard(pending_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="Unlink", callback_data=UnlinkCb(choice=Choice.CONFIRM, id=pending_id))
    builder.button(text="Cancel", callback_data=UnlinkCb(choice=Choice.CANCEL, id=pending_id))
    builder.adjust(2)
    return builder.as_markup()


async def unlink_command(message: Message, ctx: Ctx) -> None:
    """Asks first: nothing is unlinked until an admin presses Unlink (the parked-action
    pattern of /approve: one press, taken once, expiring)."""
    org = ctx.linked_org
    pending_id = await pending.park(
        ctx.session,
        org_id=org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        kind="unlink",
        payload={"private": not ctx.in_group},
    )
    await ctx.say(
        f"Unlink this chat from <b>{q(org.name, 100)}</b>? It will no longer see the "
        "calendar's events and guests, and its daily digest stops.",
        unlink_keyboard(pending_id),
    )


async def unlink_decided(query: CallbackQuery, callback_data: UnlinkCb, ctx: Ctx) -> None:
    pressed = await take_pressed(
        query, ctx, action_id=callback_data.id, kinds=("unlink",), expired=UNLINK_EXPIRED
    )
    if pressed is None:
        return
    parked, message = pressed
    if callback_data.choice is not Choice.CONFIRM:
        await query.answer("Cancelled")
        await message.edit_text("Cancelled; this chat stays linked.")
        return
    await query.answer()
    unlinked = await linking.unlink_chat(
        await caller_of(ctx),
        ctx.session,
        ctx.deps.automations,
        private=bool(parked.payload.get("private")),
        luma=ctx.deps.luma,
        keybox=ctx.deps.keybox,
    )
    tail = (
        " No chat uses it any more, so its scheduled syncs are stopped. Its Luma key and data "
        "are still stored; to delete them, send "
        f"<code>/forget {q(unlinked.name, 100)}</code> in a private chat with me."
        if unlinked.stopped
        else ""
    )
    await message.edit_text(
        f"Unlinked: this chat no longer sees <b>{q(unlinked.name, 100)}</b>.{tail}"
    )


async def use_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    if ctx.in_group:
        raise UserError(
            "A group always works with the calendar linked to it; /use is for private chats."
        )
    calendars = await linking.calendars_of(ctx.session, user_id=ctx.user_id)
    if not calendars:
        raise UserError(
            "You are not a member of any calendar yet: link one with "
            "<code>/link &lt;key&gt;</code>, or ask an admin to add you with /role."
        )
    if (command.args or "").strip():
        chosen = linking.match_calendar(calendars, command.args or "")
        org = await linking.use_calendar(ctx.session, user_id=ctx.user_id, org_id=chosen.id)
        await ctx.say(f"Now working with <b>{q(org.name, 100)}</b>.")
        return
    current = f" Now: <b>{q(ctx.org.name, 100)}</b>." if ctx.org else ""
    await ctx.say(
        f"Which calendar should this chat work with?{current}",
        use_keyboard([(org.id, org.name) for org in calendars]),
    )


async def use_pressed(query: CallbackQuery, callback_data: UseCb, ctx: Ctx) -> None:
    if ctx.in_group:
        raise UserError("You are not a member of that calendar.")
    org = await linking.use_calendar(ctx.session, user_id=ctx.user_id, org_id=callback_data.org_id)
    await ctx.session.commit()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(f"Now working with <b>{q(org.name, 100)}</b>.")


# --- roles --------------------------------------------------------------------------------


async def role_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    org = ctx.linked_org
    words = (command.args or "").split()
    if not words:
        members = await list_members(ctx.session, org_id=org.id)
        lines = [f"• {_person(user)} — {role.value}" for user, role in members]
        await ctx.say(pack(f"<b>People of {q(org.name, 100)}</b>", lines, _ROLE_USAGE))
        return
    replied = message.reply_to_message
    if len(words) == 1 and replied is not None and replied.from_user is not None:
        user_id, role_word = replied.from_user.id, words[0]
    elif len(words) == 2:
        user_id, role_word = await team.find_person(ctx.session, words[0]), words[1]
    else:
        raise UserError(_ROLE_USAGE)
    role = team.parse_role(role_word)
    await team.assign_role(
        await caller_of(ctx), ctx.session, ctx.deps.billing, user_id=user_id, role=role
    )
    await ctx.session.commit()
    user = await ctx.session.get(User, user_id)
    await ctx.say(
        f"{_person(user) if user else user_id} is now {role.value} of <b>{q(org.name, 100)}</b>."
    )


_ROLE_USAGE = (
    "Give a role with <code>/role @username admin</code> or <code>/role @username member</code>."
)


def _person(user: User) -> str:
    return f"@{q(user.username, 40)}" if user.username else q(user.full_name or str(user.id), 60)


# --- control-API tokens -------------------------------------------------------------------


_TOKEN_USAGE = (
    "Use <code>/token new [name] [days]d</code> (e.g. <code>/token new ci 90d</code>), "
    "<code>/token list</code> or "
    "<code>/token revoke &lt;prefix&gt;</code>."
)


async def token_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    verb, _, rest = (command.args or "").strip().partition(" ")
    verb = verb.lower()
    if verb == "new":
        await _new_token(ctx, rest.strip())
    elif verb == "list":
        await _list_tokens(ctx)
    elif verb == "revoke" and rest.strip():
        await _revoke_token(ctx, rest.strip())
    else:
        raise UserError(_TOKEN_USAGE)


def _name_and_days(words: str) -> tuple[str, int | None]:
    """`/token new ci 90d`: a trailing `<N>d` makes the token expire after N days."""
    name, _, last = words.rpartition(" ")
    if re.fullmatch(r"\d{1,5}d", last):
        return name.strip(), int(last[:-1])
    return words, None


async def _new_token(ctx: Ctx, words: str) -> None:
    if ctx.in_group:  # a group's history keeps the plaintext for everyone in it
        raise UserError(
            "For safety I only hand out tokens in a private chat: message me directly and "
            "send /token new there."
        )
    name, days = _name_and_days(words)
    try:
        issued = await tokens.issue(
            await caller_of(ctx), ctx.session, name=name[: tokens.MAX_NAME], days=days
        )
    except Invalid as exc:
        raise UserError(exc.message) from None
    await ctx.session.commit()
    lasts = f"It works for {days} day(s). " if days else "It works until you revoke it. "
    await ctx.say(
        f"Your control-API token for <b>{q(ctx.linked_org.name, 100)}</b>. I show it only this "
        f"once, so keep it somewhere safe:\n<code>{issued.token}</code>\n{lasts}"
        f"Revoke it with <code>/token revoke {issued.prefix}</code>. It stops working if you "
        "stop being an admin of this calendar."
    )


async def _list_tokens(ctx: Ctx) -> None:
    rows = await tokens.active(await caller_of(ctx), ctx.session)
    if not rows:
        await ctx.say("No active tokens. <code>/token new</code> (in a private chat) creates one.")
        return
    now = utcnow()
    lines = [
        f"• <code>{q(row.prefix, 16)}</code> {q(row.name, 40)} · created {ago(row.created_at, now)}"
        f" · last used {ago(row.last_used_at, now)}"
        + (f" · expires {row.expires_at:%d %b %Y}" if row.expires_at else "")
        for row in rows
    ]
    await ctx.say(pack("<b>Active tokens</b>", lines))


async def _revoke_token(ctx: Ctx, ref: str) -> None:
    try:
        revoked = await tokens.revoke(await caller_of(ctx), ctx.session, ref=ref)
    except NotFound as exc:
        raise UserError(f"{exc.message} /token list shows them.") from None
    await ctx.session.commit()
    await ctx.say(f"Revoked {revoked} token(s); they stop working at once.")


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="link")
    router.message.register(link_command, Command("link"))
    router.message.register(key_sent, StateFilter(LinkFlow.waiting_for_key), Text(command=False))
    router.message.register(
        unlink_command, Command("unlink"), flags={"linked": True, "admin": True}
    )
    router.callback_query.register(
        unlink_decided, UnlinkCb.filter(), flags={"linked": True, "admin": True}
    )
    router.callback_query.register(calendar_picked, LinkCalendarCb.filter())
    router.message.register(use_command, Command("use"))
    router.callback_query.register(use_pressed, UseCb.filter())
    router.message.register(role_command, Command("role"), flags={"linked": True, "admin": True})
    router.message.register(token_command, Command("token"), flags={"linked": True, "admin": True})
    return router
