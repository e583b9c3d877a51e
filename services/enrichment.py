"""Enrichment: an org's provider and key, on and off, its status, and a run now.

Each lookup is a paid call to the org's provider (People Data Labs or Apollo), so turning
enrichment on and running it are for admins on a plan that includes it (`PlanLimit`
otherwise); the status is for everyone. The provider key is a secret like a Luma key: it is
stored encrypted (`KeyBox`), redacted from the logs, and only its fingerprint (the last four
characters) is shown or audited. Runs are Temporal workflows started through `Automations`,
which joins the run already going, the org's schedule's too, so a click never enriches the
same people twice at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowHandle

from billing import Billing, LimitExceeded
from billing.limits import check_enrichment
from core.logs import secrets as log_secrets
from intel.enrichment import store as enrichment_store
from intel.enrichment.http import STYLES
from intel.enrichment.store import CacheStats
from services import audit
from services.automations import Automations
from services.caller import Caller, Conflict, Invalid, PlanLimit
from store.crypto import KeyBox
from store.models import OrgEnrichment
from workflows import ids

PROVIDERS = tuple(STYLES)
ENRICHMENT_OFF = "Enrichment is off. An admin can turn it on with /enrich on."
NO_PROVIDER = "No provider is set yet."


@dataclass(frozen=True)
class EnrichmentRun:
    """The run that enriches now; `scheduled` when it is the schedule's run, joined (its
    report goes where the schedule's runs report, not to the caller's chat)."""

    handle: WorkflowHandle[Any, Any]
    scheduled: bool


@dataclass(frozen=True)
class TurnedOn:
    """Enrichment on with `settings`' provider, its schedule set, and the run going now."""

    settings: OrgEnrichment
    run: EnrichmentRun


@dataclass(frozen=True)
class EnrichmentStatus:
    """The org's provider settings (None when none was ever set) and what the cache holds."""

    settings: OrgEnrichment | None
    stats: CacheStats | None


async def _admit(caller: Caller, session: AsyncSession, billing: Billing) -> None:
    """Admins only, on a plan with enrichment: each lookup costs the org money."""
    caller.require_admin()
    try:
        check_enrichment(billing, await billing.plan_for(session, org_id=caller.org_id))
    except LimitExceeded as exc:
        raise PlanLimit(escape(str(exc)), limit=exc.limit) from None


async def _start(caller: Caller, automations: Automations) -> EnrichmentRun:
    handle = await automations.start_enrichment(
        caller.org_id, chat_id=caller.chat_id, requested_by=caller.user_id
    )
    return EnrichmentRun(handle, scheduled=handle.id != ids.enrich_id(caller.org_id))


async def _switched_on(
    caller: Caller, session: AsyncSession, automations: Automations, row: OrgEnrichment
) -> TurnedOn:
    """Audit, schedule, commit, run. The schedule moves before the commit, so when Temporal
    refuses the caller's rollback keeps enrichment off; the commit comes before the run,
    which reads the provider and key from the database."""
    await audit.record(
        caller, session, "enrich_on", {"provider": row.provider, "key": row.key_fingerprint}
    )
    await automations.set_enrichment_schedule(caller.org_id, True)
    await session.commit()
    return TurnedOn(row, await _start(caller, automations))


async def turn_on_with_key(
    caller: Caller,
    session: AsyncSession,
    *,
    billing: Billing,
    automations: Automations,
    keybox: KeyBox,
    provider: str,
    key: str,
) -> TurnedOn:
    """Store the org's provider and key (encrypted; it replaces any earlier one), turn
    enrichment on and run it now. Commits the session itself."""
    key = key.strip()
    log_secrets.add(key)  # before any refusal: nothing this request logs may show it
    await _admit(caller, session, billing)
    provider = provider.strip().lower()
    if provider not in STYLES:
        raise Invalid(
            f"I do not know the provider “{escape(provider[:30])}”; use one of: "
            f"{', '.join(PROVIDERS)}."
        )
    if not key:
        raise Invalid("The provider's API key is empty.")
    row = await enrichment_store.save_provider(
        session,
        org_id=caller.org_id,
        provider=provider,
        api_key=key,
        keybox=keybox,
        user_id=caller.user_id,
    )
    return await _switched_on(caller, session, automations, row)


async def turn_on(
    caller: Caller, session: AsyncSession, *, billing: Billing, automations: Automations
) -> TurnedOn:
    """Turn enrichment on again with the stored provider and key, and run it now; a
    `Conflict` when no provider was ever set. Commits the session itself."""
    await _admit(caller, session, billing)
    row = await enrichment_store.set_enabled(
        session, org_id=caller.org_id, enabled=True, user_id=caller.user_id
    )
    if row is None:
        raise Conflict(NO_PROVIDER)
    return await _switched_on(caller, session, automations, row)


async def turn_off(
    caller: Caller, session: AsyncSession, *, automations: Automations
) -> OrgEnrichment | None:
    """Stop enrichment and its schedule; what was found stays on the profiles and the key
    stays stored. None (nothing written) when no provider was ever set. The schedule moves
    inside the caller's transaction: the caller commits."""
    caller.require_admin()
    row = await enrichment_store.set_enabled(
        session, org_id=caller.org_id, enabled=False, user_id=caller.user_id
    )
    if row is None:
        return None
    await audit.record(caller, session, "enrich_off", {"provider": row.provider})
    await automations.set_enrichment_schedule(caller.org_id, False)
    return row


async def status(caller: Caller, session: AsyncSession) -> EnrichmentStatus:
    """The provider, whether enrichment is on, its last run and the cache's counts (the
    key's fingerprint only): reading, so members may ask."""
    row = await enrichment_store.get_settings(session, org_id=caller.org_id)
    if row is None:
        return EnrichmentStatus(None, None)
    return EnrichmentStatus(row, await enrichment_store.cache_stats(session, org_id=caller.org_id))


async def run_enrichment(
    caller: Caller, session: AsyncSession, *, automations: Automations, billing: Billing
) -> EnrichmentRun:
    """Enrich the org's guests now, or join the run going. Raises `Forbidden` for a member,
    `PlanLimit` on a plan without enrichment, and `Conflict` while enrichment is off."""
    await _admit(caller, session, billing)
    row = await enrichment_store.get_settings(session, org_id=caller.org_id)
    if row is None or not row.enabled:
        raise Conflict(ENRICHMENT_OFF)
    return await _start(caller, automations)
