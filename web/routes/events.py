"""Events: upcoming and past, counts by status, check-in rate, search."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.events import EventCounts, EventFilter, When, list_events
from store.models import Event, Guest, utcnow
from web.deps import Api, Reader
from web.render import page

router = APIRouter()


async def counts_for(
    session: AsyncSession, *, org_id: int, events: list[Event]
) -> list[EventCounts]:
    """Every listed event's counts in one grouped query (not one per event)."""
    ids = [event.luma_event_id for event in events]
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    checked: dict[str, int] = defaultdict(int)
    if ids:
        rows = await session.execute(
            select(
                Guest.luma_event_id,
                Guest.approval_status,
                func.count(),
                func.count(Guest.checked_in_at),
            )
            .where(Guest.org_id == org_id, Guest.luma_event_id.in_(ids), Guest.gone_at.is_(None))
            .group_by(Guest.luma_event_id, Guest.approval_status)
        )
        for event_id, status, count, checked_in in rows:
            by_status[event_id][status] = count
            checked[event_id] += checked_in
    return [
        EventCounts(event, by_status[event.luma_event_id], checked[event.luma_event_id])
        for event in events
    ]


@router.get("/events")
async def events_page(
    request: Request,
    viewer: Reader,
    deps: Api,
    when: Annotated[str, Query(max_length=20)] = "upcoming",
    q: Annotated[str, Query(max_length=200)] = "",
) -> object:
    period: When = "past" if when == "past" else "upcoming"
    async with deps.sessions() as session:
        events = list(
            await list_events(
                session,
                org_id=viewer.org_id,
                query=EventFilter(when=period, limit=500),
                now=utcnow(),
            )
        )
        needle = q.strip().casefold()
        if needle:
            events = [
                event
                for event in events
                if needle in event.name.casefold() or needle in (event.city or "").casefold()
            ]
        rows = await counts_for(session, org_id=viewer.org_id, events=events)
        return await page(
            request, session, viewer, "events.html", rows=rows, when=period, q=q, nav="events"
        )
