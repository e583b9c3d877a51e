"""The automations behind the calendar: sync now, jobs, the daily digest, and /status."""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy import func, select

from bot import args
from bot.context import Ctx
from bot.errors import UserError
from bot.routers.billing import sync_every, usage_lines
from bot.texts import ago, pack, q
from store import audit
from store.models import AutomationSettings, Chat, Event, utcnow

RUNNING = "running"
DIGEST_USAGE = (
    "Use <code>/digest on 09:00 Europe/Lisbon</code>, <code>/digest off</code>, "
    "or <code>/digest now</code>."
)


# --- sync and jobs ------------------------------------------------------------------------


async def sync_now(ctx: Ctx) -> None:
    """Start a sync (or join the running one) and report when it ends, within a bound."""
    org = ctx.linked_org
    handle = await ctx.deps.automations.sync_now(org.id, interactive=True)
    sent = await ctx.say("Syncing with Luma…")
    await ctx.session.commit()
    try:
        async with asyncio.timeout(ctx.deps.sync_timeout):
            report = await handle.result()
    except TimeoutError:
        await sent.edit_text("Still syncing in the background; answers will catch up shortly.")
        return
    await sent.edit_text(
        f"Synced with Luma: {report.events} events, {report.guests} guest records updated."
    )


async def sync_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").split()
    if words and words[0].lower() == "every":
        await sync_every(ctx, words[1:])
        return
    await sync_now(ctx)


async def jobs_command(message: Message, ctx: Ctx) -> None:
    jobs = await ctx.deps.automations.list_jobs(ctx.linked_org.id)
    if not jobs:
        await ctx.say("No jobs yet. /sync starts one.")
        return
    jobs.sort(key=lambda job: job.status != RUNNING)  # running first, newest first within
    now = utcnow()
    lines = [
        f"• <b>{q(job.kind, 30)}</b> {q(job.status, 20)} · started {ago(job.started_at, now)}"
        f' · <a href="{q(job.ui_url, 500)}">open</a>'
        for job in jobs
    ]
    await ctx.say(pack("<b>Jobs</b> (running first)", lines))


# --- digest -------------------------------------------------------------------------------


async def _digest_settings(ctx: Ctx) -> AutomationSettings:
    """This chat's settings row (and the chat row it belongs to, for a DM using /use)."""
    org = ctx.linked_org
    if await ctx.session.get(Chat, ctx.chat_id) is None:
        ctx.session.add(Chat(id=ctx.chat_id, kind=ctx.chat_kind, title=ctx.chat_title[:255]))
        await ctx.session.flush()
    settings = await ctx.session.get(AutomationSettings, ctx.chat_id)
    if settings is None:
        settings = AutomationSettings(chat_id=ctx.chat_id, org_id=org.id)
        ctx.session.add(settings)
    settings.org_id = org.id
    return settings


async def digest_switch(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").split()
    switch, rest = words[0].lower(), words[1:]
    if len(rest) > 2:
        raise UserError(DIGEST_USAGE)
    settings = await _digest_settings(ctx)
    automations = ctx.deps.automations
    if switch == "off":
        settings.digest_enabled = False
        await automations.clear_digest(ctx.chat_id)
        reply = "Daily digest off for this chat."
    else:
        at = args.clock_time(rest[0]) if rest else settings.digest_time or "09:00"
        zone = args.timezone(rest[1]) if len(rest) > 1 else ctx.timezone
        await automations.set_digest(
            chat_id=ctx.chat_id, org_id=ctx.linked_org.id, at=at, timezone=zone
        )
        settings.digest_enabled, settings.digest_time, settings.digest_timezone = True, at, zone
        chat = await ctx.session.get(Chat, ctx.chat_id)
        if chat is not None:
            chat.timezone = zone  # dates in this chat are shown in the zone it asked for
        reply = f"Daily digest on: every day at {at} ({q(zone, 40)})."
    await audit.record(
        ctx.session,
        org_id=ctx.linked_org.id,
        source="bot",
        action=f"digest_{switch}",
        result="ok",
        target={"time": settings.digest_time, "timezone": settings.digest_timezone},
        actor_user_id=ctx.user_id,
        chat_id=ctx.chat_id,
    )
    await ctx.session.commit()
    await ctx.say(reply)


async def digest_now(ctx: Ctx) -> None:
    await ctx.deps.automations.send_digest_now(chat_id=ctx.chat_id, org_id=ctx.linked_org.id)
    await ctx.say("Preparing your digest; it will arrive here in a moment.")


async def digest_other(message: Message, command: CommandObject, ctx: Ctx) -> None:
    word = (command.args or "").strip().lower()
    if word == "now":
        await digest_now(ctx)
    elif word:
        raise UserError(DIGEST_USAGE)
    else:
        await ctx.say(await _digest_state(ctx) + "\n" + DIGEST_USAGE)


async def _digest_state(ctx: Ctx) -> str:
    settings = await ctx.session.get(AutomationSettings, ctx.chat_id)
    if settings is None or not settings.digest_enabled or settings.org_id != ctx.linked_org.id:
        return "Daily digest: off."
    return f"Daily digest: every day at {settings.digest_time} ({q(settings.digest_timezone, 40)})."


# --- status -------------------------------------------------------------------------------


async def status_command(message: Message, ctx: Ctx) -> None:
    org = ctx.linked_org
    events = await ctx.session.scalar(
        select(func.count()).where(Event.org_id == org.id, Event.gone_at.is_(None))
    )
    jobs = await ctx.deps.automations.list_jobs(org.id)
    running = [job for job in jobs if job.status == RUNNING]
    role = "admin" if await ctx.access.is_admin() else "member"
    lines = [
        f"Linked to <b>{q(org.name, 100)}</b> (key {q(org.key_fingerprint, 8)}).",
        f"Cache: {events or 0} events, last synced {ago(org.last_synced_at, utcnow())}.",
        f"Running jobs: {len(running)}"
        + (f" ({', '.join(q(job.kind, 30) for job in running)})" if running else "")
        + ". /jobs shows them.",
        await _digest_state(ctx),
        f"Your role here: {role}.",
        *await usage_lines(ctx),
    ]
    await ctx.say("\n".join(lines))


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="automations")
    router.message.register(sync_command, Command("sync"), flags={"linked": True})
    router.message.register(jobs_command, Command("jobs"), flags={"linked": True})
    router.message.register(
        digest_switch,
        Command("digest", magic=F.args.regexp(r"(?i)^\s*(on|off)\b")),
        flags={"linked": True, "admin": True},
    )
    router.message.register(digest_other, Command("digest"), flags={"linked": True})
    router.message.register(status_command, Command("status"), flags={"linked": True})
    return router
