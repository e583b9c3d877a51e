"""/privacy in a group: whether people outside the calendar's team see guests' details here."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from services import group_privacy

USAGE = (
    "<code>/privacy show</code> shows guest lists and details to everyone in this group; "
    "<code>/privacy counts</code> shows them to the calendar's team only (the default)."
)


async def privacy_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    if not ctx.in_group:
        raise UserError("/privacy is a group setting: send it in the group it is for.")
    word = (command.args or "").strip().lower()
    if not word:
        now = (
            "Everyone in this group sees guest lists and details."
            if ctx.personal_data
            else group_privacy.COUNTS_ONLY_NOTE
        )
        await ctx.say(f"{now}\n{USAGE}")
        return
    if word not in ("show", "counts"):
        raise UserError(USAGE)
    shown = word == "show"
    await group_privacy.set_personal_data(await caller_of(ctx), ctx.session, shown=shown)
    await ctx.say(
        "Done: everyone in this group now sees guest lists and details."
        if shown
        else "Done: guest lists and details are shown here to the calendar's team only."
    )


def build_router() -> Router:
    router = Router(name="privacy")
    router.message.register(privacy_command, Command("privacy"), flags={"linked": True})
    return router
