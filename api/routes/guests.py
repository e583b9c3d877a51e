"""Guest lists, CSV export, and status changes for one guest or many (through Temporal)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from api.deps import ApiDeps, AutomationsDep, CurrentOrg, DepsDep, OrgEvent, SessionDep
from api.errors import ApiError
from api.routes.stripe import PLAN_LIMIT_RESPONSE, BillingDep, plan_limit
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
from billing.limits import LimitExceeded, check_bulk, record_bulk
from catalog.bulk_preview import preview_bulk
from catalog.guest_filter import GuestFilter as BulkFilter
from catalog.guests import BadCursor, GuestFilter, GuestPage, csv_header, csv_page, guest_page
from luma import InvalidEmailError, normalize_email
from store import audit
from store.models import Guest, utcnow
from workflows.contracts.guest_status import GuestStatusChange
from workflows.starter import GuestStatusError

router = APIRouter(prefix="/v1/events/{event_id}", tags=["guests"])

CSV_PAGE = 1000  # rows per keyset page while streaming an export


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


def _catalog_filter(query: GuestQueryBase, limit: int) -> GuestFilter:
    return GuestFilter(
        status=query.status, domain=query.domain, search=query.search, sort=query.sort, limit=limit
    )


@router.get("/guests", summary="One page of an event's guests")
async def get_guests(
    org_id: CurrentOrg,
    event: OrgEvent,
    session: SessionDep,
    query: Annotated[GuestListQuery, Query()],
) -> GuestPagePublic:
    try:
        page = await guest_page(
            session,
            org_id=org_id,
            event_id=event.luma_event_id,
            query=_catalog_filter(query, query.limit),
            cursor=query.cursor,
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
    wanted = _catalog_filter(query, CSV_PAGE)
    # The first page is read before answering, so a bad filter still gets a proper error.
    first = await guest_page(session, org_id=org_id, event_id=event.luma_event_id, query=wanted)
    return StreamingResponse(
        _csv_stream(deps, org_id, event.luma_event_id, wanted, first),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="guests-{event.luma_event_id}.csv"'},
    )


async def _csv_stream(
    deps: ApiDeps, org_id: int, event_id: str, wanted: GuestFilter, page: GuestPage
) -> AsyncIterator[str]:
    """Header, then page after keyset page: memory stays flat for 50,000 guests."""
    yield csv_header()
    while True:
        # A short session per page: a slow download never holds a connection for long.
        async with deps.sessions() as session:
            rows = await csv_page(session, org_id=org_id, guests=page.guests, rules=deps.vip_rules)
            following = page.next_cursor and await guest_page(
                session, org_id=org_id, event_id=event_id, query=wanted, cursor=page.next_cursor
            )
        yield rows
        if not following:
            return
        page = following


@router.post("/guests/{email}/status", summary="Approve or decline one guest (waits for Luma)")
async def set_guest_status(
    org_id: CurrentOrg,
    event: OrgEvent,
    automations: AutomationsDep,
    email: Annotated[str, Path(max_length=320, json_schema_extra={"format": "email"})],
    body: GuestStatusUpdate,
) -> GuestStatusPublic:
    try:
        address = normalize_email(email)
    except InvalidEmailError as exc:
        raise ApiError(422, exc.user_message) from None
    change = GuestStatusChange(
        org_id=org_id,
        event_id=event.luma_event_id,
        email=address,
        target_status=body.status,
        should_refund=body.should_refund,
        source="api",
    )
    try:
        result = await automations.set_guest_status(change)
    except GuestStatusError as exc:
        raise ApiError(409, str(exc)) from None
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
    org_id: CurrentOrg,
    event: OrgEvent,
    deps: DepsDep,
    session: SessionDep,
    body: BulkStatusCreate,
    response: Response,
    billing: BillingDep,
) -> BulkPreviewPublic | BulkStarted:
    guest_filter = BulkFilter(**body.filter.model_dump(mode="json"))
    preview = await preview_bulk(
        session,
        org_id=org_id,
        event_id=event.luma_event_id,
        target_status=body.target_status,
        guest_filter=guest_filter,
        should_refund=body.should_refund,
    )
    if body.dry_run:
        return BulkPreviewPublic(
            matched=preview.matched,
            to_change=preview.to_change,
            already=preview.already,
            needs_refund_choice=preview.needs_refund_choice,
            unknown_emails=preview.unknown_emails,
            sample=[guest_public(guest) for guest in preview.sample],
            cache_synced_at=event.guests_synced_at,
        )
    guests = preview.to_change + preview.needs_refund_choice
    try:  # the plan in force now; a job already running is never stopped by a plan change
        check_bulk(billing, await billing.plan_for(session, org_id=org_id), guests)
    except LimitExceeded as exc:
        raise plan_limit(exc) from None
    started = await deps.automations.start_bulk(
        org_id=org_id,
        event_id=event.luma_event_id,
        target_status=body.target_status,
        guest_filter=guest_filter,
        should_refund=body.should_refund,
        event_name=event.name,
    )
    async with deps.sessions.begin() as writer:
        await audit.record(
            writer,
            org_id=org_id,
            source="api",
            action=f"bulk_{body.target_status}_started",
            result="already running" if started.already_running else "started",
            target={"event_id": event.luma_event_id, "job": started.workflow_id},
        )
        if not started.already_running:
            await record_bulk(writer, org_id=org_id, day=utcnow().date(), guests=guests)
    response.status_code = status.HTTP_202_ACCEPTED
    return BulkStarted(
        workflow_id=started.workflow_id,
        already_running=started.already_running,
        ui_url=started.ui_url,
    )
