"""Guest lists, CSV export, and status changes for one guest or many (through Temporal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    ApiDeps,
    AutomationsDep,
    CurrentCaller,
    CurrentOrg,
    DepsDep,
    OrgEvent,
    SessionDep,
)
from api.errors import ApiError
from api.routes.stripe import PLAN_LIMIT_RESPONSE, BillingDep
from api.schemas import (
    BulkPreviewPublic,
    BulkStarted,
    BulkStatusCreate,
    GuestListQuery,
    GuestPagePublic,
    GuestPublic,
    GuestQueryBase,
    GuestStatusPublic,
    GuestStatusUpdate,
)
from catalog.guest_filter import GuestFilter
from catalog.guest_query import BadCursor, GuestQuery, GuestSort, guest_page, prepare
from catalog.guests import csv_chunks
from intel.vip_rules import vip_rules_for
from services import bulk, guest_status
from store.models import Guest

router = APIRouter(prefix="/v1/events/{event_id}", tags=["guests"])


# What `guest_public` reads: a page loads only these columns.
PUBLIC_COLUMNS = (
    Guest.luma_guest_id,
    Guest.email,
    Guest.name,
    Guest.approval_status,
    Guest.company,
    Guest.job_title,
    Guest.is_paid,
    Guest.registered_at,
    Guest.checked_in_at,
)


def guest_public(guest: Guest) -> GuestPublic:
    return GuestPublic(
        id=guest.luma_guest_id,
        email=guest.email,
        name=guest.name,
        approval_status=guest.approval_status,
        company=guest.company,
        job_title=guest.job_title,
        is_paid=guest.is_paid,
        registered_at=guest.registered_at,
        checked_in_at=guest.checked_in_at,
    )


async def _guest_query(
    session: AsyncSession, deps: ApiDeps, org_id: int, event_id: str, query: GuestQueryBase
) -> GuestQuery:
    """The request's filter (the product's one `GuestFilter`) over this event, with the org's
    VIP rules when it asks for VIPs or repeat guests (the rules decide nothing else here: a
    plain list page spares the query)."""
    wanted = GuestFilter(
        statuses=[query.status] if query.status else [],
        domains=[query.domain] if query.domain else [],
        search=query.search,
    )
    rules = deps.vip_rules
    if wanted.vip or wanted.repeat:
        rules = await vip_rules_for(session, org_id=org_id, defaults=rules)
    return await prepare(
        session, org_id=org_id, event_id=event_id, guest_filter=wanted, rules=rules
    )


@router.get("/guests", summary="One page of an event's guests")
async def get_guests(
    org_id: CurrentOrg,
    event: OrgEvent,
    session: SessionDep,
    deps: DepsDep,
    query: Annotated[GuestListQuery, Query()],
) -> GuestPagePublic:
    wanted = await _guest_query(session, deps, org_id, event.luma_event_id, query)
    try:
        page = await guest_page(
            session,
            wanted,
            sort=GuestSort(query.sort),
            after=query.cursor,
            limit=query.limit,
            only=PUBLIC_COLUMNS,
        )
    except BadCursor as exc:
        raise ApiError(400, str(exc)) from None
    return GuestPagePublic(
        guests=[guest_public(guest) for guest in page.guests],
        next_cursor=page.next_cursor,
        total=page.total,
    )


@router.get(
    "/guests.csv",
    summary="Export an event's guests as CSV (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the guests, one per row"}},
)
async def export_guests(
    org_id: CurrentOrg,
    event: OrgEvent,
    session: SessionDep,
    deps: DepsDep,
    query: Annotated[GuestQueryBase, Query()],
) -> StreamingResponse:
    """Header, then keyset batch after batch (`catalog.guests.csv_chunks`): memory stays flat
    for 50,000 guests, and each batch is read on a short session of its own."""
    wanted = await _guest_query(session, deps, org_id, event.luma_event_id, query)
    rules = await vip_rules_for(session, org_id=org_id, defaults=deps.vip_rules)
    return StreamingResponse(
        csv_chunks(deps.sessions, wanted, sort=GuestSort(query.sort), rules=rules),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="guests-{event.luma_event_id}.csv"'},
    )


@router.post("/guests/{email}/status", summary="Approve or decline one guest (waits for Luma)")
async def set_guest_status(
    caller: CurrentCaller,
    event: OrgEvent,
    automations: AutomationsDep,
    email: Annotated[str, Path(max_length=320, json_schema_extra={"format": "email"})],
    body: GuestStatusUpdate,
) -> GuestStatusPublic:
    result = await guest_status.set_guest_status(
        caller,
        automations=automations,
        event_id=event.luma_event_id,
        email=email,
        target_status=body.status,
        should_refund=body.should_refund,
    )
    return GuestStatusPublic(
        email=result.email,
        name=result.name,
        before=result.before,
        after=result.after,
        changed=result.changed,
    )


@router.post(
    "/bulk-status",
    summary="Approve or decline every matching guest (dry run: preview from the cache)",
    responses={
        202: {"model": BulkStarted, "description": "the job was started (or is running)"},
        **PLAN_LIMIT_RESPONSE,
    },
)
async def bulk_status(
    caller: CurrentCaller,
    event: OrgEvent,
    deps: DepsDep,
    session: SessionDep,
    body: BulkStatusCreate,
    response: Response,
    billing: BillingDep,
) -> BulkPreviewPublic | BulkStarted:
    request = bulk.BulkRequest(
        event_id=event.luma_event_id,
        target_status=body.target_status,
        guest_filter=GuestFilter(**body.filter.model_dump(mode="json")),
        should_refund=body.should_refund,
        event_name=event.name,
    )
    if body.dry_run:
        check = await bulk.preview_bulk(
            session, billing, caller, request, vip_defaults=deps.vip_rules
        )
        preview = check.preview
        return BulkPreviewPublic(
            matched=preview.matched,
            to_change=preview.to_change,
            already=preview.already,
            needs_refund_choice=preview.needs_refund_choice,
            unknown_emails=preview.unknown_emails,
            sample=[guest_public(guest) for guest in preview.sample],
            cache_synced_at=event.guests_synced_at,
        )
    started = await bulk.start_bulk(
        caller,
        request,
        sessions=deps.sessions,
        automations=deps.automations,
        billing=billing,
        vip_defaults=deps.vip_rules,
    )
    response.status_code = status.HTTP_202_ACCEPTED
    return BulkStarted(
        workflow_id=started.job.workflow_id,
        already_running=started.job.already_running,
        web_url=started.job.web_url,
    )
