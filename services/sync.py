"""Work a person asks for now that also runs on a schedule: a sync with Luma, an enrichment run.

Either joins the run already going, whether a person or the org's Temporal Schedule started
it (`Automations.sync_now` / `start_enrichment` ask the schedule for its running action), so
a click during a scheduled run never runs the same work twice at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowHandle

from billing import Billing, LimitExceeded
from billing.limits import check_enrichment
from intel.enrichment import store as enrichment_store
from services.automations import Automations
from services.caller import Caller, Conflict, PlanLimit
from workflows import ids

ENRICHMENT_OFF = "Enrichment is off. An admin can turn it on with /enrich on."


async def sync_now(
    caller: Caller, automations: Automations, *, interactive: bool = False
) -> WorkflowHandle[Any, Any]:
    """Sync the org's guest lists with Luma now, or join the sync running. Reading, not
    writing: members may ask for it. `interactive` when a person waits for the answer."""
    return await automations.sync_now(caller.org_id, interactive=interactive)


@dataclass(frozen=True)
class EnrichmentRun:
    """The run that enriches now; `scheduled` when it is the schedule's run, joined (its
    report goes where the schedule's runs report, not to the caller's chat)."""

    handle: WorkflowHandle[Any, Any]
    scheduled: bool


async def run_enrichment(
    session: AsyncSession, caller: Caller, *, automations: Automations, billing: Billing
) -> EnrichmentRun:
    """Enrich the org's guests now. Raises `Forbidden` for a member (each lookup is paid),
    `PlanLimit` on a plan without enrichment, and `Conflict` while enrichment is off."""
    caller.require_admin()
    try:
        check_enrichment(billing, await billing.plan_for(session, org_id=caller.org_id))
    except LimitExceeded as exc:
        raise PlanLimit(str(exc), limit=exc.limit) from None
    row = await enrichment_store.get_settings(session, org_id=caller.org_id)
    if row is None or not row.enabled:
        raise Conflict(ENRICHMENT_OFF)
    handle = await automations.start_enrichment(
        caller.org_id, chat_id=caller.chat_id, requested_by=caller.user_id
    )
    return EnrichmentRun(handle, scheduled=handle.id != ids.enrich_id(caller.org_id))
