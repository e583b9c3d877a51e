"""Events of the token's org, from the cache the sync workflows keep fresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentOrg, OrgEvent, SessionDep
from api.schemas import EventList, EventPublic, EventQuery, EventSummaryPublic, GuestCounts
from catalog.events import EventFilter, event_counts, list_events
from store.models import Event, utcnow

router = APIRouter(prefix="/v1/events", tags=["events"])


def event_public(event: Event) -> EventPublic:
    return EventPublic(
        id=event.luma_event_id,
        name=event.name,
        start_at=event.start_at,
        end_at=event.end_at,
        timezone=event.timezone,
        city=event.city,
        country=event.country,
        url=event.url,
        guests_synced_at=event.guests_synced_at,
    )


@router.get("", summary="List events")
async def get_events(
    org_id: CurrentOrg, session: SessionDep, query: Annotated[EventQuery, Query()]
) -> EventList:
    wanted = EventFilter(
        when=query.when,
        city=query.city,
        date_from=query.date_from,
        date_to=query.date_to,
        timezone=query.timezone,
        limit=query.limit,
    )
    events = await list_events(session, org_id=org_id, query=wanted, now=utcnow())
    return EventList(events=[event_public(event) for event in events])


@router.get("/{event_id}", summary="One event with its guest counts")
async def get_event(org_id: CurrentOrg, event: OrgEvent, session: SessionDep) -> EventSummaryPublic:
    counts = await event_counts(session, org_id=org_id, event=event)
    # Attendance is a rate of an event that is over; before that it is absent, not 0 %.
    over = event.end_at is not None and event.end_at < utcnow()
    return EventSummaryPublic(
        **event_public(event).model_dump(),
        counts=GuestCounts(
            by_status=counts.by_status,
            registered=counts.registered,
            approved=counts.approved,
            pending=counts.pending,
            checked_in=counts.checked_in,
            attendance_rate=counts.attendance_rate if over else None,
        ),
    )
