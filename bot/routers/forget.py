"""/forget <calendar name>: delete a calendar's organization, its Luma key and all its data.

The calendar's name typed in full is the confirmation. It works from a private chat even after
the last chat was unlinked (the person's admin membership is what counts), which is when
/unlink offers it.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.context import Ctx
from bot.errors import UserError
from bot.texts import q
from services import linking, org_deletion
from services.caller import ADMIN_ONLY, Caller, Refusal
from store.models import Role
from store.orgs import get_role

USAGE = (
    "Send <code>/forget &lt;the calendar's name&gt;</code> in a private chat with me: it "
    "deletes the calendar's Luma key and everything I keep about it (guests, profiles, tags, "
    "notes, tokens, settings) and stops its automations. It cannot be undone."
)


async def forget_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    if ctx.in_group:
        raise UserError(USAGE)
    wanted = " ".join((command.args or "").split())
    if not wanted:
        raise UserError(USAGE)
    calendars = await linking.calendars_of(ctx.session, user_id=ctx.user_id)
    matches = [org for org in calendars if org.name.casefold() == wanted.casefold()]
    if len(matches) != 1:
        names = ", ".join(f"<b>{q(org.name, 60)}</b>" for org in calendars) or "none"
        raise UserError(f"Type one of your calendars' names exactly; yours: {names}.")
    org = matches[0]
    if await get_role(ctx.session, org_id=org.id, user_id=ctx.user_id) is not Role.ADMIN:
        raise UserError(ADMIN_ONLY)
    caller = Caller(org.id, Role.ADMIN, "bot", ctx.user_id, ctx.chat_id)
    try:
        deleted = await org_deletion.delete_org(
            caller,
            ctx.session,
            ctx.deps.automations,
            confirm_name=wanted,
            luma=ctx.deps.luma,
            keybox=ctx.deps.keybox,
        )
    except Refusal as exc:
        raise UserError(exc.message) from None
    await ctx.say(
        f"Deleted <b>{q(deleted.name, 100)}</b>: its Luma key and {deleted.rows} stored "
        "record(s) are gone, and its automations are stopped. Link it again any time with "
        "/link."
    )


def build_router() -> Router:
    router = Router(name="forget")
    router.message.register(forget_command, Command("forget"))
    return router
