"""/crm for the CRM sync's status and last run, /crm sync to push changed profiles now.

The connector (which service, its token, the mapping) is set in the portal, where a token
is pasted into a password field instead of a chat. The rules (admins only, a connector set
and switched on, joining a run going) are `services.crm`'s; the workflow posts its report
here when done.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.texts import ago, q
from crm import NAMES
from services import crm
from store.models import utcnow

USAGE = "Use <code>/crm</code> for the status or <code>/crm sync</code> to sync now."
JOINED = "The scheduled CRM sync is going now; /crm shows its counts when it is done."


async def crm_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").lower().split()
    if words == ["sync"]:
        await _sync(ctx)
    elif not words or words == ["status"]:
        await _status(ctx)
    else:
        raise UserError(USAGE)


async def _sync(ctx: Ctx) -> None:
    run = await crm.start_run(await caller_of(ctx), ctx.session, automations=ctx.deps.automations)
    if run.scheduled:
        await ctx.say(JOINED)
        return
    await ctx.say("Syncing changed profiles in the background; I will post here when done.")


async def _status(ctx: Ctx) -> None:
    found = await crm.status(await caller_of(ctx), ctx.session, runs=1)
    row = found.connector
    if row is None:
        await ctx.say(crm.NOT_SET)
        return
    where = " / ".join(q(value) for value in row.target.values() if value)
    state = "on" if row.enabled else "off"
    lines = [
        f"CRM sync is {state}: {NAMES[row.kind]} {where}, token {q(row.token_fingerprint)}, "
        f"last run {ago(row.last_run_at, utcnow())}."
    ]
    if found.runs:
        run = found.runs[0]
        lines.append(
            f"Last run ({run.status}): {run.profiles} profiles, {run.written} written, "
            f"{run.unchanged} unchanged, {run.failed} failed."
        )
        if run.error:
            lines.append(f"Stopped: {q(run.error)}")
    lines.append("Set it up and see failures in the portal (/web).")
    await ctx.say("\n".join(lines))


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="crm")
    router.message.register(crm_command, Command("crm"), flags={"linked": True})
    return router
