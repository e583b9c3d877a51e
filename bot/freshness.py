"""Answer from the cache when it is fresh; otherwise refresh it through a workflow first.

A question about an event whose guest list was synced a few minutes ago is answered at once
without calling Luma. Older or missing data is re-read by the same workflows the schedules
run (so the rate budget and the audit rules hold), and the bot waits a bounded time for it;
if Luma is slow, the answer comes from what is cached, with a note saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from bot.context import Ctx
from bot.errors import failure_reason
from bot.texts import q
from services.automations.client import TEMPORAL_DOWN, is_outage
from store.models import Event

log = logging.getLogger(__name__)

STALE_NOTE = "<i>Luma did not answer in time, so this may be a little out of date.</i>"
# When the refresh could not even start, or no worker took it: Luma is not to blame.
TEMPORAL_NOTE = (
    f"<i>{TEMPORAL_DOWN}, so this comes from my cache and may be a little out of date.</i>"
)
NO_WORKER_NOTE = (
    "<i>No automation worker is running to refresh from Luma, so this comes from my cache "
    "and may be a little out of date.</i>"
)
WORKER_CHECK_SECONDS = 2.0


def _is_fresh(synced_at: datetime | None, ctx: Ctx, fresh_for: timedelta) -> bool:
    return synced_at is not None and ctx.now() - synced_at < fresh_for


async def fresh_event(ctx: Ctx, event: Event) -> str:
    """Make the event's guest list fresh; returns "" or a note to append to the answer."""
    if _is_fresh(event.guests_synced_at, ctx, ctx.deps.event_fresh_for):
        return ""
    org = ctx.linked_org
    note = await _wait(ctx, lambda: ctx.deps.automations.refresh_event(org.id, event.luma_event_id))
    await ctx.session.refresh(event)
    return note


async def fresh_org(ctx: Ctx) -> str:
    """Make the org's event list fresh (first sync after linking, or a missed schedule)."""
    org = ctx.linked_org
    if _is_fresh(org.last_synced_at, ctx, ctx.deps.org_fresh_for):
        return ""
    note = await _wait(ctx, lambda: ctx.deps.automations.sync_now(org.id, interactive=True))
    await ctx.session.refresh(org)
    ctx.events = None  # read again: the sync may have added or renamed some
    return note


async def _wait(ctx: Ctx, start: Callable[[], Awaitable[WorkflowHandle[Any, Any]]]) -> str:
    # The update's transaction is ended first, so no connection idles while Luma works.
    await ctx.session.commit()
    handle: WorkflowHandle[Any, Any] | None = None
    try:
        async with asyncio.timeout(ctx.deps.refresh_timeout):
            handle = await start()
            await handle.result()
    except TimeoutError:
        if handle is None:  # Temporal itself did not answer
            return TEMPORAL_NOTE
        return STALE_NOTE if await _worker_alive(ctx) else NO_WORKER_NOTE
    except WorkflowFailureError as exc:
        reason = q(failure_reason(exc).rstrip("."))
        return f"<i>Could not refresh from Luma ({reason}); showing what I have.</i>"
    except (RPCError, RuntimeError) as exc:
        if not is_outage(exc) and not isinstance(exc, RPCError):
            raise
        log.warning("refresh could not start: %s", exc)
        return TEMPORAL_NOTE
    return ""


async def _worker_alive(ctx: Ctx) -> bool:
    """Whether a worker could have taken the refresh (when unsure: yes, blame Luma)."""
    try:
        async with asyncio.timeout(WORKER_CHECK_SECONDS):
            return await ctx.deps.automations.worker_alive()
    except (TimeoutError, RPCError):
        return True
