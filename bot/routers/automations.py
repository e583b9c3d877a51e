"""The automations behind the calendar: sync now, jobs, the daily digest, and /status."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy import func, select

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.routers.billing import sync_every, usage_lines
from bot.texts import ago, pack, q
from services import digest, jobs, sync
from services.automations import JobInfo
from services.automations.client import JOB_ACTIONS
from store.models import Chat, Event, utcnow

RUNNING = "running"
DIGEST_USAGE = (
    "Use <code>/digest on 09:00 Europe/Lisbon</code>, <code>/digest off</code>, "
    "or <code>/digest now</code>."
)


# --- sync and jobs ------------------------------------------------------------------------


async def sync_now(ctx: Ctx) -> None:
    """Start a sync (or join the running one, even the schedule's) and report when it ends,
    within a bound."""
    handle = await sync.sync_now(await caller_of(ctx), ctx.deps.automations, interactive=True)
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


def _job_line(job: JobInfo, now: datetime) -> str:
    """The action, the event, who asked, the status and when: never a raw workflow id."""
    line = f"• <b>{q(job.action, 40)}</b>"
    if job.event_id:
        line += f" · {q(job.event_name or 'an event no longer synced', 60)}"
    if job.requested_by is not None:
        line += f" · by {q(job.requested_by_name or 'a former member', 40)}"
    return (
        f"{line} · {q(job.status, 20)} · started {ago(job.started_at, now)}"
        f' · <a href="{q(job.web_url, 500)}">open</a>'
    )


async def jobs_command(message: Message, ctx: Ctx) -> None:
    found = await jobs.list_jobs(ctx.session, ctx.deps.automations, await caller_of(ctx))
    if not found.workflows and not found.schedules:
        await ctx.say("No jobs yet. /sync starts one.")
        return
    # Running first, newest first within (sorted() is stable).
    workflows = sorted(found.workflows, key=lambda job: job.status != RUNNING)
    now = utcnow()
    lines = [_job_line(job, now) for job in workflows]
    if found.schedules:
        kinds = ", ".join(
            q(JOB_ACTIONS.get(job.kind.removesuffix("-schedule"), job.kind), 40).lower()
            for job in found.schedules
        )
        lines.append(f"Scheduled: {kinds}.")
    await ctx.say(pack("<b>Jobs</b> (running first)", lines))


# --- digest -------------------------------------------------------------------------------


async def _own_chat(ctx: Ctx) -> None:
    """A DM working with a calendar through /use has no chat row yet; its digest needs one."""
    if await ctx.session.get(Chat, ctx.chat_id) is None:
        ctx.session.add(Chat(id=ctx.chat_id, kind=ctx.chat_kind, title=ctx.chat_title[:255]))
        await ctx.session.flush()


async def digest_switch(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").split()
    enabled, rest = words[0].lower() == "on", words[1:]
    if len(rest) > 2:
        raise UserError(DIGEST_USAGE)
    await _own_chat(ctx)
    state = await digest.set_digest(
        await caller_of(ctx),
        ctx.session,
        ctx.deps.automations,
        chat_id=ctx.chat_id,
        enabled=enabled,
        at=rest[0] if enabled and rest else None,
        zone=rest[1] if enabled and len(rest) > 1 else (ctx.timezone if enabled else None),
    )
    await ctx.session.commit()
    if state.enabled:
        await ctx.say(f"Daily digest on: every day at {state.time} ({q(state.timezone, 40)}).")
    else:
        await ctx.say("Daily digest off for this chat.")


async def digest_now(ctx: Ctx) -> None:
    await _own_chat(ctx)
    await digest.send_digest_now(
        await caller_of(ctx), ctx.session, ctx.deps.automations, chat_id=ctx.chat_id
    )
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
    if await ctx.session.get(Chat, ctx.chat_id) is None:
        return "Daily digest: off."
    [state] = await digest.digests(await caller_of(ctx), ctx.session, chat_id=ctx.chat_id)
    if not state.enabled:
        return "Daily digest: off."
    return f"Daily digest: every day at {state.time} ({q(state.timezone, 40)})."


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
