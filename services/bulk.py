"""What happens when someone bulk-approves or bulk-declines: preview, then start.

The bot's Confirm, the API's `POST /v1/events/{id}/bulk-status` and the portal's bulk form
all come here. A preview counts from the cache what the job would do and says whether the
plan allows it; a start is for admins, re-counts (the guest list or the plan may have changed
since the preview), refuses a job larger than the plan, starts the workflow once per (org,
event, target, filter) so a double click finds the running job, writes one audit row, and
counts the job's guests in today's usage only when it was newly started.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import Billing, LimitExceeded
from billing.limits import check_bulk, record_bulk
from catalog.bulk_preview import SAMPLE_SIZE, BulkPreview
from catalog.bulk_preview import preview_bulk as count_from_cache
from catalog.guest_filter import GuestFilter
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from services import audit
from services.automations import Automations, BulkStart
from services.caller import Caller, PlanLimit
from store.models import utcnow


@dataclass(frozen=True)
class BulkRequest:
    """One bulk status change as a person asked for it."""

    event_id: str
    target_status: str
    guest_filter: GuestFilter
    should_refund: bool | None = None
    event_name: str = ""  # for the job's report
    # The bot's live message for the job, kept with the audit row so a restarted bot finds it.
    message_id: int | None = None


@dataclass(frozen=True)
class BulkCheck:
    """The preview, the job's size as the plan counts it, and the plan's refusal if any."""

    preview: BulkPreview
    guests: int
    over_plan: PlanLimit | None


@dataclass(frozen=True)
class BulkStarted:
    """The job that runs now (new, or the identical one already running) and its size."""

    job: BulkStart
    guests: int


async def preview_bulk(
    session: AsyncSession,
    billing: Billing,
    caller: Caller,
    request: BulkRequest,
    *,
    sample_size: int = SAMPLE_SIZE,
    refund_choice_follows: bool = False,
    vip_defaults: VipRules,
) -> BulkCheck:
    """What the job would do, from the cache, and whether the plan allows it. Reading only:
    anyone may preview (the API's dry run, the portal's confirmation page, the bot's
    question with its Confirm button). The org's VIP rules (over `vip_defaults`, the
    settings') score VIPs for a filter that asks for them."""
    rules = await vip_rules_for(session, org_id=caller.org_id, defaults=vip_defaults)
    # The same matcher the workflow applies to Luma's guests, run over the cache.
    preview = await count_from_cache(
        session,
        org_id=caller.org_id,
        event_id=request.event_id,
        target_status=request.target_status,
        guest_filter=request.guest_filter,
        should_refund=request.should_refund,
        sample_size=sample_size,
        rules=rules,
    )
    # Paid guests a decline has no refund choice for are left alone by the job (it cannot
    # touch them), so they count only when the choice is still to come (the bot asks it
    # with its Confirm buttons).
    guests = preview.to_change + (preview.needs_refund_choice if refund_choice_follows else 0)
    try:  # the plan in force now; a job already running is never stopped by a plan change
        check_bulk(billing, await billing.plan_for(session, org_id=caller.org_id), guests)
    except LimitExceeded as exc:
        return BulkCheck(preview, guests, PlanLimit(str(exc), limit=exc.limit))
    return BulkCheck(preview, guests, None)


async def start_bulk(
    caller: Caller,
    request: BulkRequest,
    *,
    sessions: async_sessionmaker[AsyncSession],
    automations: Automations,
    billing: Billing,
    vip_defaults: VipRules,
) -> BulkStarted:
    """Start the job (or find it running). Raises `Forbidden` for a member and `PlanLimit`
    over the plan; then nothing is started, audited or counted."""
    caller.require_guest_writer()
    async with sessions() as session:
        check = await preview_bulk(
            session, billing, caller, request, sample_size=0, vip_defaults=vip_defaults
        )
    if check.over_plan is not None:
        raise check.over_plan
    job = await automations.start_bulk(
        org_id=caller.org_id,
        event_id=request.event_id,
        target_status=request.target_status,
        guest_filter=request.guest_filter,
        should_refund=request.should_refund,
        requested_by=caller.user_id,
        chat_id=caller.chat_id,
        event_name=request.event_name,
    )
    async with sessions.begin() as session:
        await audit.record(
            caller,
            session,
            f"bulk_{request.target_status}_started",
            {"event_id": request.event_id, "job": job.workflow_id}
            | ({} if request.message_id is None else {"message_id": request.message_id}),
            result="already running" if job.already_running else "started",
        )
        if not job.already_running:
            await record_bulk(
                session, org_id=caller.org_id, day=utcnow().date(), guests=check.guests
            )
    return BulkStarted(job, check.guests)
