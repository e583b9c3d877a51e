"""The guest browser of one event: filter, sort, page, export, and bulk approve/decline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import LUMA_ID_PATTERN, ApiDeps
from catalog.guest_filter import GuestFilter as BulkFilter
from catalog.guest_query import prepare
from catalog.guests import csv_chunks
from intel.people import insights_for
from intel.vip_rules import vip_rules_for
from luma.models import ApprovalStatus
from services import bulk
from store import cache
from store.models import Event
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Plans, Reader
from web.errors import WebError, not_found, refusal_page
from web.guest_query import GuestView, browse, known_emails, view_from_form
from web.render import page, see_other

router = APIRouter(prefix="/events/{event_id}")
EventId = Annotated[str, Path(pattern=LUMA_ID_PATTERN)]
TARGETS = {"approve": "approved", "decline": "declined"}


async def org_event(session: AsyncSession, org_id: int, event_id: str) -> Event:
    event = await cache.get_event(session, org_id=org_id, luma_event_id=event_id)
    if event is None or event.gone_at is not None:
        raise not_found("event")
    return event


@router.get("/guests")
async def guests_page(request: Request, viewer: Reader, deps: Api, event_id: EventId) -> object:
    view = GuestView.from_params(request.query_params)
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        rules = await vip_rules_for(session, org_id=viewer.org_id, defaults=deps.vip_rules)
        found = await browse(
            session, org_id=viewer.org_id, event_id=event_id, view=view, rules=rules
        )
        # Badges for the rows shown: VIP (with the reasons) and repeat guests.
        insights = await insights_for(
            session,
            org_id=viewer.org_id,
            emails=[guest.normalized_email for guest in found.guests],
            rules=rules,
            with_notes=False,
        )
        return await page(
            request,
            session,
            viewer,
            "guests.html",
            event=event,
            guests=found.guests,
            insights=insights,
            total=found.total,
            view=view,
            found=found,
            statuses=[status.value for status in ApprovalStatus],
            nav="events",
        )


@router.get("/guests.csv")
async def export_csv(request: Request, viewer: Reader, deps: Api, event_id: EventId) -> object:
    """The view in its order with the profile columns, streamed as the API's export is."""
    view = GuestView.from_params(request.query_params)
    async with deps.sessions() as session:
        await org_event(session, viewer.org_id, event_id)
        rules = await vip_rules_for(session, org_id=viewer.org_id, defaults=deps.vip_rules)
        query = await prepare(
            session,
            org_id=viewer.org_id,
            event_id=event_id,
            guest_filter=view.guest_filter(),
            rules=rules,
        )
    return StreamingResponse(
        csv_chunks(deps.sessions, query, sort=view.guest_sort(), rules=rules),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="guests-{event_id}.csv"'},
    )


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
        choice.filter = view.guest_filter()  # the job evaluates search, VIP and repeat too
        # Said plainly on the confirmation page: with no filter the job touches everyone.
        choice.scope = (
            "every guest of the event (no filter is set)"
            if choice.filter.empty
            else "every guest matching the filter"
        )
        return choice


def _request(choice: BulkChoice) -> bulk.BulkRequest:
    # No refund choice in the portal: paid guests a decline would need one for are skipped.
    return bulk.BulkRequest(
        event_id=choice.event.luma_event_id,
        target_status=choice.target,
        guest_filter=choice.filter,
        event_name=choice.event.name,
    )


@router.post("/bulk")
async def bulk_confirm(
    request: Request, viewer: Admin, deps: Api, billing: Plans, event_id: EventId
) -> object:
    """The confirmation page: what the job would do, counted from the cache, and the plan's
    refusal when the job is larger than the plan allows (then nothing can be started)."""
    choice = await _bulk_choice(request, viewer, deps, event_id)
    async with deps.sessions() as session:
        check = await bulk.preview_bulk(
            session, billing, caller_of(viewer), _request(choice), vip_defaults=deps.vip_rules
        )
        refusal = refusal_page(check.over_plan) if check.over_plan else None
        return await page(
            request,
            session,
            viewer,
            "bulk_confirm.html",
            status=refusal.status if refusal else 200,
            choice=choice,
            preview=check.preview,
            refusal=refusal.message if refusal else None,
            nav="events",
        )


@router.post("/bulk/start")
async def bulk_start(
    request: Request, viewer: Admin, deps: Api, billing: Plans, event_id: EventId
) -> object:
    """Start the job: `services.bulk` counts again (the plan or the guest list may have
    changed since the confirmation), refuses it over the plan, audits and counts it."""
    choice = await _bulk_choice(request, viewer, deps, event_id)
    started = await bulk.start_bulk(
        caller_of(viewer),
        _request(choice),
        sessions=deps.sessions,
        automations=deps.automations,
        billing=billing,
        vip_defaults=deps.vip_rules,
    )
    return see_other(f"/web/jobs/{started.job.workflow_id}")
