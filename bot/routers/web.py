"""/web: a one-time sign-in link to the admin web portal, for this person and this calendar.

The link is personal, so it only ever goes to the person's private chat: asked in a group,
the bot sends it there and says so in the group.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import Message

from bot.context import NO_PREVIEW, Ctx
from bot.errors import UserError
from bot.texts import q
from store.orgs import get_role
from web.auth import LINK_LIFETIME, issue_signin_link


async def web_command(message: Message, ctx: Ctx) -> None:
    org = ctx.linked_org
    if await get_role(ctx.session, org_id=org.id, user_id=ctx.user_id) is None:
        raise UserError(
            f"You are not a member of <b>{q(org.name, 100)}</b> yet: ask one of its admins to "
            "add you with /role, then send /web again."
        )
    url = await issue_signin_link(
        ctx.session, settings=ctx.deps.settings, user_id=ctx.user_id, org_id=org.id
    )
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    text = (
        f'<a href="{q(url, 400)}">Open the {q(org.name, 100)} portal</a>\n'
        f"This link signs you in once and expires in {minutes} minutes. Do not share it."
    )
    if not ctx.in_group:
        await ctx.say(text)
        return
    await ctx.session.commit()
    try:
        # Link previews stay off: a preview fetch would spend the single-use link.
        await ctx.bot.send_message(ctx.user_id, text, link_preview_options=NO_PREVIEW)
    except TelegramAPIError:
        raise UserError(
            "I can only send sign-in links privately: open a chat with me, press Start, "
            "and send /web there."
        ) from None
    await ctx.say("I sent you a sign-in link in our private chat.")


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="web")
    router.message.register(web_command, Command("web"), flags={"linked": True})
    return router
