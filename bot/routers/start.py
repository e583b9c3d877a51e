"""/start, /help and the global /cancel (registered first, so it wins in any state)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.context import Ctx
from bot.texts import q
from nlp import help_examples

HELP = """<b>What I can do</b>
/events [city|month|upcoming|past] · /event &lt;name&gt;
/guests &lt;event&gt; [status] [@domain] · /pending &lt;event&gt;
/find &lt;email or name&gt; · /export &lt;event&gt; [status]
/followup &lt;event&gt; attended|no-shows|all · /unsubscribe &lt;email&gt;
/vips [event] [status] · /repeats [event]
/tag or /untag &lt;email&gt; &lt;tag&gt; · /note &lt;email&gt; &lt;text&gt;
/approve or /decline &lt;email&gt; [event]
/bulk approve|decline &lt;event&gt; &lt;status, @domain, emails or #tag&gt;
/trends [event|city|month|domain|company] · /enrich on|off|run|status
/crm · /crm sync (CRM and Airtable sync, set up in /web)
/sync · /jobs · /status · /digest on [HH:MM] [zone] | off
/link &lt;key&gt; · /unlink · /use · /role · /token · /web · /privacy · /forget · /cancel
/upgrade [plan] · /billing · /sync every &lt;minutes&gt;
Or just ask (in a group, mention me or reply to me):"""


async def start(message: Message, ctx: Ctx) -> None:
    if ctx.org is not None:
        await ctx.say(
            f"Hi! This chat works with the Luma calendar <b>{q(ctx.org.name, 100)}</b>. "
            "Ask me about its events and guests; /help shows how."
        )
        return
    await ctx.say(
        "Hi! I answer questions about your Luma events and guests and approve or decline "
        "guests for you. Link a calendar with <code>/link &lt;your Luma API key&gt;</code> "
        "(Luma → Settings → API); /help shows the rest."
    )


def help_text() -> str:
    examples = "\n".join(f"• <i>{q(example)}</i>" for example in help_examples()[:6])
    return f"{HELP}\n{examples}"


async def help_command(message: Message, ctx: Ctx) -> None:
    await ctx.say(help_text())


async def cancel(message: Message, ctx: Ctx, state: FSMContext) -> None:
    if await state.get_state() is None:
        await ctx.say("Nothing to cancel.")
        return
    await state.clear()
    await ctx.say("Cancelled.")


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.message.register(cancel, Command("cancel"))
    return router
