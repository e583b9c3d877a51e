"""Linking chats to Luma calendars, choosing one in a DM, roles, and control-API tokens.

A Luma key is a secret: in a group the message holding it is deleted before anything else
happens (even when the key is wrong or the sender may not link), it is checked with Luma's
get-self before it is stored, it is stored encrypted, and only its last four characters are
ever shown. It is registered with the log redactor the moment it is read.
"""

from __future__ import annotations

import hashlib
import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy import func, select
from temporalio.service import RPCError

from billing.limits import sync_interval_for
from billing.sync import enrichment_follows_plan
from bot.context import Ctx
from bot.errors import UserError
from bot.filters import Text
from bot.keyboards import UseCb, use_keyboard
from bot.routers.billing import admit_link, admit_member
from bot.texts import ago, pack, q
from core.logs import secrets as log_secrets
from luma import InvalidKeyError, LumaError
from store import audit, tokens
from store.crypto import fingerprint
from store.models import Role, User, utcnow
from store.orgs import (
    get_role,
    link_chat,
    list_members,
    org_chats,
    save_org,
    set_role,
    unlink_chat,
    user_orgs,
)

log = logging.getLogger(__name__)

GROUP_ADMINS_ONLY = "Only an administrator of this group can link it to a Luma calendar."
KEY_HELP = "Luma → Settings → API"


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
        await link_with_key(ctx, key, warning)
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


async def link_with_key(ctx: Ctx, key: str, warning: str) -> None:
    """Check the key with Luma, store it encrypted, link this chat, start the first sync."""
    if len(key) < 8 or len(key) > 256 or any(char.isspace() for char in key):
        shape = f"That does not look like a Luma API key; copy it from {KEY_HELP}."
        raise UserError(_sentences(shape, warning))
    budget_key = "key-check:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    try:
        owner = await ctx.deps.luma.client(key, budget_key=budget_key, interactive=True).get_self()
    except InvalidKeyError:
        rejected = (
            f"Luma rejected this key, so nothing was stored. Copy it again from {KEY_HELP} and "
            "send <code>/link &lt;key&gt;</code>."
        )
        raise UserError(_sentences(rejected, warning)) from None
    except LumaError as exc:
        raise UserError(_sentences(q(exc.user_message), "Nothing was stored.", warning)) from None
    session = ctx.session
    name = owner.name or owner.email or "Luma calendar"
    previous = ctx.org.id if ctx.org is not None and ctx.linked_by is not None else None
    org = await save_org(
        session, calendar_id=owner.id, name=name, luma_key=key, keybox=ctx.deps.keybox
    )
    await admit_link(ctx, org)  # a refusal rolls the update back: nothing is stored
    await link_chat(
        session,
        chat_id=ctx.chat_id,
        org_id=org.id,
        kind=ctx.chat_kind,
        title=ctx.chat_title[:255],
        linked_by=ctx.user_id,
    )
    if not ctx.in_group:
        user = await session.get(User, ctx.user_id)
        if user is not None:
            user.active_org_id = org.id
    await _audit(ctx, org.id, "link", {"calendar": owner.id, "key": fingerprint(key)})
    await session.commit()
    follow_up = "I am fetching its events now; try /events in a moment."
    try:
        if previous is not None and previous != org.id:
            await _release(ctx, previous)
        await ctx.deps.automations.on_org_linked(org.id, sync_interval_for(ctx.deps.billing, org))
        await enrichment_follows_plan(session, ctx.deps.billing, ctx.deps.automations, org=org)
    except RPCError as exc:
        log.warning("could not start the first sync of org %s: %s", org.id, exc)
        follow_up = "The first sync could not start yet; send /sync in a minute."
    linked = (
        f"Linked this chat to the Luma calendar of <b>{q(name, 100)}</b> "
        f"(key {q(fingerprint(key), 8)})."
    )
    await ctx.say(_sentences(linked, follow_up, warning))


def _sentences(*parts: str) -> str:
    return " ".join(part for part in parts if part)


async def _release(ctx: Ctx, org_id: int) -> bool:
    """Stop an org's schedules once no chat is linked to it; True when it was the last one."""
    if await org_chats(ctx.session, org_id=org_id):
        return False
    await ctx.deps.automations.on_org_unlinked(org_id, [ctx.chat_id])
    return True


async def _audit(ctx: Ctx, org_id: int, action: str, target: dict[str, object]) -> None:
    await audit.record(
        ctx.session,
        org_id=org_id,
        source="bot",
        action=action,
        result="ok",
        target=target,
        actor_user_id=ctx.user_id,
        chat_id=ctx.chat_id,
    )


# --- unlink and /use ----------------------------------------------------------------------


async def unlink_command(message: Message, ctx: Ctx) -> None:
    org = ctx.linked_org
    session = ctx.session
    if ctx.linked_by is not None:  # the chat itself is linked to this org (not just /use)
        await unlink_chat(session, chat_id=ctx.chat_id)
    if not ctx.in_group:
        user = await session.get(User, ctx.user_id)
        if user is not None and user.active_org_id == org.id:
            user.active_org_id = None
    await _audit(ctx, org.id, "unlink", {"calendar": org.luma_calendar_id})
    await session.commit()
    await ctx.deps.automations.clear_digest(ctx.chat_id)
    last = await _release(ctx, org.id)
    tail = " No chat uses it any more, so its scheduled syncs are stopped." if last else ""
    await ctx.say(f"Unlinked: this chat no longer sees <b>{q(org.name, 100)}</b>.{tail}")


async def use_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    if ctx.in_group:
        raise UserError(
            "A group always works with the calendar linked to it; /use is for private chats."
        )
    orgs = await user_orgs(ctx.session, user_id=ctx.user_id)
    if not orgs:
        raise UserError(
            "You are not a member of any calendar yet: link one with "
            "<code>/link &lt;key&gt;</code>, or ask an admin to add you with /role."
        )
    wanted = " ".join((command.args or "").split()).casefold()
    if wanted:
        chosen = [org for org in orgs if wanted in org.name.casefold()]
        if len(chosen) != 1:
            raise UserError(
                f"None or several of your calendars match “{q(wanted, 60)}”; send /use to pick one."
            )
        await _use(ctx, chosen[0].id, chosen[0].name)
        await ctx.say(f"Now working with <b>{q(chosen[0].name, 100)}</b>.")
        return
    current = f" Now: <b>{q(ctx.org.name, 100)}</b>." if ctx.org else ""
    await ctx.say(
        f"Which calendar should this chat work with?{current}",
        use_keyboard([(org.id, org.name) for org in orgs]),
    )


async def _use(ctx: Ctx, org_id: int, name: str) -> None:
    if await get_role(ctx.session, org_id=org_id, user_id=ctx.user_id) is None:
        raise UserError("You are no longer a member of that calendar.")
    user = await ctx.session.get(User, ctx.user_id)
    if user is not None:
        user.active_org_id = org_id


async def use_pressed(query: CallbackQuery, callback_data: UseCb, ctx: Ctx) -> None:
    orgs = {org.id: org.name for org in await user_orgs(ctx.session, user_id=ctx.user_id)}
    if ctx.in_group or callback_data.org_id not in orgs:
        raise UserError("You are not a member of that calendar.")
    await _use(ctx, callback_data.org_id, orgs[callback_data.org_id])
    await ctx.session.commit()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            f"Now working with <b>{q(orgs[callback_data.org_id], 100)}</b>."
        )


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
        user_id, role_word = await _user_id(ctx, words[0]), words[1]
    else:
        raise UserError(_ROLE_USAGE)
    try:
        role = Role(role_word.lower())
    except ValueError:
        raise UserError(f"The role must be admin or member, not “{q(role_word, 20)}”.") from None
    await admit_member(ctx, user_id)
    await set_role(ctx.session, org_id=org.id, user_id=user_id, role=role)
    await _audit(ctx, org.id, "set_role", {"user_id": user_id, "role": role.value})
    await ctx.session.commit()
    user = await ctx.session.get(User, user_id)
    await ctx.say(
        f"{_person(user) if user else user_id} is now {role.value} of <b>{q(org.name, 100)}</b>."
    )


_ROLE_USAGE = (
    "Give a role with <code>/role @username admin</code> or <code>/role @username member</code>."
)


async def _user_id(ctx: Ctx, who: str) -> int:
    if who.isdigit() and len(who) <= 15:  # Telegram user ids fit in 52 bits
        return int(who)
    username = who.lstrip("@").lower()
    user_id = await ctx.session.scalar(select(User.id).where(func.lower(User.username) == username))
    if user_id is None:
        raise UserError(
            f"I do not know @{q(username, 40)} yet: ask them to send me a message first, "
            "then try again."
        )
    return user_id


def _person(user: User) -> str:
    return f"@{q(user.username, 40)}" if user.username else q(user.full_name or str(user.id), 60)


# --- control-API tokens -------------------------------------------------------------------


_TOKEN_USAGE = (
    "Use <code>/token new [name]</code>, <code>/token list</code> or "
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


async def _new_token(ctx: Ctx, name: str) -> None:
    if ctx.in_group:
        raise UserError(
            "For safety I only hand out tokens in a private chat: message me directly and "
            "send /token new there."
        )
    org = ctx.linked_org
    issued = await tokens.issue_token(ctx.session, org_id=org.id, created_by=ctx.user_id, name=name)
    log_secrets.add(issued.token)
    await _audit(ctx, org.id, "token_issue", {"prefix": issued.prefix, "name": name[:100]})
    await ctx.session.commit()
    await ctx.say(
        f"Your control-API token for <b>{q(org.name, 100)}</b>. I show it only this once, so "
        f"keep it somewhere safe:\n<code>{issued.token}</code>\n"
        f"Revoke it with <code>/token revoke {issued.prefix}</code>."
    )


async def _list_tokens(ctx: Ctx) -> None:
    rows = await tokens.list_tokens(ctx.session, org_id=ctx.linked_org.id)
    if not rows:
        await ctx.say("No active tokens. <code>/token new</code> (in a private chat) creates one.")
        return
    now = utcnow()
    lines = [
        f"• <code>{q(row.prefix, 16)}</code> {q(row.name, 40)} · created {ago(row.created_at, now)}"
        f" · last used {ago(row.last_used_at, now)}"
        for row in rows
    ]
    await ctx.say(pack("<b>Active tokens</b>", lines))


async def _revoke_token(ctx: Ctx, prefix: str) -> None:
    org = ctx.linked_org
    revoked = 0
    if not (prefix.isdigit() and len(prefix) > 9):  # longer numbers are no token id
        revoked = await tokens.revoke_token(ctx.session, org_id=org.id, prefix_or_id=prefix)
    if not revoked:
        raise UserError(f"No active token matches “{q(prefix, 20)}”. /token list shows them.")
    await _audit(ctx, org.id, "token_revoke", {"prefix": prefix[:16], "count": revoked})
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
    router.message.register(use_command, Command("use"))
    router.callback_query.register(use_pressed, UseCb.filter())
    router.message.register(role_command, Command("role"), flags={"linked": True, "admin": True})
    router.message.register(token_command, Command("token"), flags={"linked": True, "admin": True})
    return router
