"""What the plan means for an org's schedules: the sync interval it allows (bot `/sync every`,
the API, the portal), and the sync and enrichment schedules following a plan change."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing.limits import check_sync_interval, sync_interval_for
from billing.service import Billing
from services.automations import Automations
from store.models import Organization, OrgEnrichment
from workflows import ids

MAX_INTERVAL_MINUTES = 7 * 24 * 60


async def set_sync_interval(
    session: AsyncSession,
    billing: Billing,
    automations: Automations,
    *,
    org: Organization,
    minutes: int,
) -> None:
    """Refuse an interval below the plan's floor (`LimitExceeded`), else store it and move the
    schedule. The schedule changes inside the caller's transaction: if Temporal refuses,
    the caller's rollback keeps the old interval."""
    if not 1 <= minutes <= MAX_INTERVAL_MINUTES:
        raise ValueError(f"the interval must be 1 to {MAX_INTERVAL_MINUTES} minutes")
    check_sync_interval(billing, billing.plan_of(org), minutes)
    org.sync_interval_minutes = minutes
    await session.flush()
    await automations.ensure_sync_schedule(org.id, minutes)


async def follow_plan(
    session: AsyncSession, billing: Billing, automations: Automations, *, org: Organization
) -> None:
    """After a plan change, the org's standing schedules (future work) follow its plan.

    Runs already going are left alone: a faster sync schedule slows to the plan's floor,
    and scheduled enrichment follows `enrichment_follows_plan`.
    """
    if await automations.schedule_exists(ids.sync_schedule_id(org.id)):
        await automations.ensure_sync_schedule(org.id, sync_interval_for(billing, org))
    await enrichment_follows_plan(session, billing, automations, org=org)


async def enrichment_follows_plan(
    session: AsyncSession, billing: Billing, automations: Automations, *, org: Organization
) -> None:
    """Scheduled enrichment runs exactly while the org has it on and its plan includes it:
    a downgrade stops it (the data is kept); an upgrade back or a relink restarts it."""
    enrichment = await session.get(OrgEnrichment, org.id)
    wanted = billing.plan_of(org).enrichment and enrichment is not None and enrichment.enabled
    await automations.set_enrichment_schedule(org.id, bool(wanted))
