"""The guest browser of one event: filter, sort, page, export, and bulk approve/decline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from activities.bulk import GuestFilter as BulkFilter
from api.deps import LUMA_ID_PATTERN, ApiDeps
from catalog.bulk_preview import preview_bulk
from catalog.guests import csv_header, csv_rows
from intel.people import insights_for
from intel.vip import VipRules
from luma.models import ApprovalStatus
from store import cache
from store.models import Event
from web.deps import Admin, Api, Reader, WebDep, audit_write
from web.errors import WebError, not_found
from web.guest_query import (
    MAX_BULK_EMAILS,
    PER_PAGE,
    GuestView,
    PeopleRules,
    browse,
    known_emails,
    matching_emails,
    people_rules,
    view_from_form,
)
from web.render import page, see_other

router = APIRouter(prefix="/events/{event_id}")
EventId = Annotated[str, Path(pattern=LUMA_ID_PATTERN)]
TARGETS = {"approve": "approved", "decline": "declined"}
CSV_PAGE = 1000


async def org_event(session: AsyncSession, org_id: int, event_id: str) -> Event:
    event = await cache.get_event(session, org_id=org_id, luma_event_id=event_id)
    if event is None or event.gone_at is not None:
        raise not_found("event")
    return event


@router.get("/guests")
async def guests_page(
    request: Request, viewer: Reader, deps: Api, web: WebDep, event_id: EventId
) -> object:
    view = GuestView.from_params(request.query_params)
    rules = VipRules.from_settings(web.settings)
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        people = await people_rules(
            session, org_id=viewer.org_id, event_id=event_id, view=view, rules=rules
        )
        guests, total = await browse(
            session, org_id=viewer.org_id, event_id=event_id, view=view, people=people
        )
        # Badges for the rows shown: VIP (with the reasons) and repeat guests.
        insights = await insights_for(
            session,
            org_id=viewer.org_id,
            emails=[guest.normalized_email for guest in guests],
            rules=rules,
            with_notes=False,
        )
        pages = max(1, -(-total // PER_PAGE))
        return await page(
            request,
            session,
            viewer,
            "guests.html",
            event=event,
            guests=guests,
            insights=insights,
            total=total,
            view=view,
            pages=pages,
            statuses=[status.value for status in ApprovalStatus],
            nav="events",
        )


@router.get("/guests.csv")
async def export_csv(
    request: Request, viewer: Reader, deps: Api, web: WebDep, event_id: EventId
) -> object:
    view = GuestView.from_params(request.query_params)
    async with deps.sessions() as session:
        await org_event(session, viewer.org_id, event_id)
        people = await people_rules(
            session,
            org_id=viewer.org_id,
            event_id=event_id,
            view=view,
            rules=VipRules.from_settings(web.settings),
        )
    return StreamingResponse(
        _csv_stream(deps, viewer.org_id, event_id, view, people),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="guests-{event_id}.csv"'},
    )


async def _csv_stream(
    deps: ApiDeps, org_id: int, event_id: str, view: GuestView, people: PeopleRules
) -> AsyncIterator[str]:
    """The view in its order, page by page, each page on a short session."""
    yield csv_header()
    number = 1
    while True:
        async with deps.sessions() as session:
            rows, _ = await browse(
                session,
                org_id=org_id,
                event_id=event_id,
                view=GuestView(**{**vars(view), "page": number}),
                per_page=CSV_PAGE,
                people=people,
            )
        yield csv_rows(rows)
        if len(rows) < CSV_PAGE:
            return
        number += 1


async def _bulk_choice(
    session: AsyncSession, org_id: int, event_id: str, form: Any, rules: VipRules
) -> tuple[str, BulkFilter, GuestView, list[str], str]:
    """What a bulk form asks for: target status, the job's filter, and how to describe it."""
    action, _, scope = str(form.get("do", "")).partition(":")
    if action not in TARGETS or scope not in ("selected", "matching"):
        raise WebError(400, "Nothing to do", "Choose approve or decline, then try again.")
    view = view_from_form(form)
    if scope == "selected":
        emails = await known_emails(
            session, org_id=org_id, event_id=event_id, emails=form.getlist("email")
        )
        if not emails:
            raise WebError(
                400, "No guests selected", "Tick the guests to change, or use the filter instead."
            )
        return TARGETS[action], BulkFilter(emails=emails), view, emails, "selected guests"
    exact = view.bulk_filter()
    if exact is not None:
        return TARGETS[action], exact, view, [], "every guest matching the filter"
    people = await people_rules(session, org_id=org_id, event_id=event_id, view=view, rules=rules)
    found = await matching_emails(
        session, org_id=org_id, event_id=event_id, view=view, people=people
    )
    if found is None:
        raise WebError(
            400,
            "Too many guests for this filter",
            f"Search, tag and repeat filters can act on up to {MAX_BULK_EMAILS:,} guests at "
            "once. Narrow the filter, or filter by status, domain or answer only.",
        )
    if not found:
        raise WebError(400, "No guests match", "No guest matches this filter; nothing to do.")
    return TARGETS[action], BulkFilter(emails=found), view, found, "every guest matching the filter"


@router.post("/bulk")
async def bulk_confirm(
    request: Request, viewer: Admin, deps: Api, web: WebDep, event_id: EventId
) -> object:
    """The confirmation page: what the job would do, counted from the cache."""
    form = await request.form()
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        target, bulk, view, emails, scope = await _bulk_choice(
            session, viewer.org_id, event_id, form, VipRules.from_settings(web.settings)
        )
        preview = await preview_bulk(
            session,
            org_id=viewer.org_id,
            event_id=event_id,
            target_status=target,
            guest_filter=bulk,
            should_refund=None,
        )
        return await page(
            request,
            session,
            viewer,
            "bulk_confirm.html",
            event=event,
            target=target,
            do=form.get("do"),
            preview=preview,
            view=view,
            emails=emails if str(form.get("do", "")).endswith(":selected") else [],
            scope=scope,
            nav="events",
        )


@router.post("/bulk/start")
async def bulk_start(
    request: Request, viewer: Admin, deps: Api, web: WebDep, event_id: EventId
) -> object:
    form = await request.form()
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        target, bulk, _, _, _ = await _bulk_choice(
            session, viewer.org_id, event_id, form, VipRules.from_settings(web.settings)
        )
    started = await deps.automations.start_bulk(
        org_id=viewer.org_id,
        event_id=event_id,
        target_status=target,
        guest_filter=bulk,
        requested_by=viewer.user_id,
        event_name=event.name,
    )
    async with deps.sessions.begin() as session:
        await audit_write(
            session,
            viewer,
            f"bulk_{target}_started",
            {"event_id": event_id, "job": started.workflow_id},
            "already running" if started.already_running else "started",
        )
    return see_other(f"/web/jobs/{started.workflow_id}")
