"""The guest browser of one event: filter, sort, page, export, and bulk approve/decline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import LUMA_ID_PATTERN, ApiDeps
from billing import Billing, LimitExceeded
from billing.limits import check_bulk, record_bulk
from catalog.bulk_preview import BulkPreview, preview_bulk
from catalog.guest_filter import GuestFilter as BulkFilter
from catalog.guests import csv_header, csv_page
from intel.people import insights_for
from luma.models import ApprovalStatus
from store import cache
from store.models import Event, utcnow
from web.auth import Viewer
from web.deps import PLAN_PAGE_HINT, Admin, Api, Plans, Reader, audit_write, plan_refusal
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
async def guests_page(request: Request, viewer: Reader, deps: Api, event_id: EventId) -> object:
    view = GuestView.from_params(request.query_params)
    rules = deps.vip_rules
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
async def export_csv(request: Request, viewer: Reader, deps: Api, event_id: EventId) -> object:
    view = GuestView.from_params(request.query_params)
    async with deps.sessions() as session:
        await org_event(session, viewer.org_id, event_id)
        people = await people_rules(
            session,
            org_id=viewer.org_id,
            event_id=event_id,
            view=view,
            rules=deps.vip_rules,
        )
    return StreamingResponse(
        _csv_stream(deps, viewer.org_id, event_id, view, people),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="guests-{event_id}.csv"'},
    )


async def _csv_stream(
    deps: ApiDeps, org_id: int, event_id: str, view: GuestView, people: PeopleRules
) -> AsyncIterator[str]:
    """The view in its order with the profile columns (as the API's export), page by page,
    each page on a short session."""
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
            chunk = await csv_page(session, org_id=org_id, guests=rows, rules=deps.vip_rules)
        yield chunk
        if len(rows) < CSV_PAGE:
            return
        number += 1


@dataclass
class BulkChoice:
    """What a bulk form asks for: the job's target and filter, and how to show it."""

    event: Event
    do: str
    target: str
    filter: BulkFilter
    view: GuestView
    scope: str
    selected: list[str] = field(default_factory=list)  # ticked rows, carried to the confirm


async def _bulk_choice(
    request: Request, viewer: Viewer, deps: ApiDeps, event_id: str
) -> BulkChoice:
    """Read and check a bulk form (the guest table's, or the confirmation's)."""
    form = await request.form()
    do = str(form.get("do", ""))
    action, _, scope = do.partition(":")
    if action not in TARGETS or scope not in ("selected", "matching"):
        raise WebError(400, "Nothing to do", "Choose approve or decline, then try again.")
    view = view_from_form(form)
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        choice = BulkChoice(event, do, TARGETS[action], BulkFilter(), view, "")
        if scope == "selected":
            emails = await known_emails(
                session,
                org_id=viewer.org_id,
                event_id=event_id,
                emails=[str(email) for email in form.getlist("email")],
            )
            if not emails:
                raise WebError(
                    400,
                    "No guests selected",
                    "Tick the guests to change, or use the filter instead.",
                )
            choice.filter, choice.scope, choice.selected = (
                BulkFilter(emails=emails),
                "selected guests",
                emails,
            )
            return choice
        choice.scope = "every guest matching the filter"
        exact = view.bulk_filter()
        if exact is not None:
            choice.filter = exact
            return choice
        people = await people_rules(
            session,
            org_id=viewer.org_id,
            event_id=event_id,
            view=view,
            rules=deps.vip_rules,
        )
        found = await matching_emails(
            session, org_id=viewer.org_id, event_id=event_id, view=view, people=people
        )
    if found is None:
        raise WebError(
            400,
            "Too many guests for this filter",
            f"Search, VIP and repeat filters can act on up to {MAX_BULK_EMAILS:,} guests "
            "at once. Narrow the filter, or filter by status, domain, tag or answer only.",
        )
    if not found:
        raise WebError(400, "No guests match", "No guest matches this filter; nothing to do.")
    choice.filter = BulkFilter(emails=found)
    return choice


async def _preview(session: AsyncSession, viewer: Viewer, choice: BulkChoice) -> BulkPreview:
    return await preview_bulk(
        session,
        org_id=viewer.org_id,
        event_id=choice.event.luma_event_id,
        target_status=choice.target,
        guest_filter=choice.filter,
        should_refund=None,
    )


async def _over_plan(
    session: AsyncSession, billing: Billing, viewer: Viewer, preview: BulkPreview
) -> LimitExceeded | None:
    """The plan's refusal of this job (its size: the guests it would change), if any.

    Paid guests a decline would need a refund choice for are skipped by the portal's jobs,
    so they do not count.
    """
    try:
        check_bulk(
            billing, await billing.plan_for(session, org_id=viewer.org_id), preview.to_change
        )
    except LimitExceeded as exc:
        return exc
    return None


@router.post("/bulk")
async def bulk_confirm(
    request: Request, viewer: Admin, deps: Api, billing: Plans, event_id: EventId
) -> object:
    """The confirmation page: what the job would do, counted from the cache, and the plan's
    refusal when the job is larger than the plan allows (then nothing can be started)."""
    choice = await _bulk_choice(request, viewer, deps, event_id)
    async with deps.sessions() as session:
        preview = await _preview(session, viewer, choice)
        refusal = await _over_plan(session, billing, viewer, preview)
        return await page(
            request,
            session,
            viewer,
            "bulk_confirm.html",
            status=403 if refusal else 200,
            choice=choice,
            preview=preview,
            refusal=f"{refusal} {PLAN_PAGE_HINT}" if refusal else None,
            nav="events",
        )


@router.post("/bulk/start")
async def bulk_start(
    request: Request, viewer: Admin, deps: Api, billing: Plans, event_id: EventId
) -> object:
    """Start the job once the plan allows its size (checked again: the plan or the guest list
    may have changed since the confirmation), and count its guests in today's usage."""
    choice = await _bulk_choice(request, viewer, deps, event_id)
    async with deps.sessions() as session:
        preview = await _preview(session, viewer, choice)
        refusal = await _over_plan(session, billing, viewer, preview)
    if refusal is not None:
        raise plan_refusal(refusal)
    started = await deps.automations.start_bulk(
        org_id=viewer.org_id,
        event_id=event_id,
        target_status=choice.target,
        guest_filter=choice.filter,
        requested_by=viewer.user_id,
        event_name=choice.event.name,
    )
    async with deps.sessions.begin() as session:
        await audit_write(
            session,
            viewer,
            f"bulk_{choice.target}_started",
            {"event_id": event_id, "job": started.workflow_id},
            "already running" if started.already_running else "started",
        )
        if not started.already_running:
            await record_bulk(
                session, org_id=viewer.org_id, day=utcnow().date(), guests=preview.to_change
            )
    return see_other(f"/web/jobs/{started.workflow_id}")
