"""Guest-list sync: Luma's events and guests copied into the cache, org by org.

Upserts are keyed on Luma's ids, so a retried page writes the same rows again. Guests a full
pass did not see are marked gone (they were removed in Luma), never deleted, so history and
audit references stay intact.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.heartbeat import heartbeating
from activities.luma_access import LumaAccess, luma_failures_are_final
from core import defaults, metrics
from core.settings import get_settings
from intel.policy_reads import PolicyView, policy_for
from luma import LumaClient, LumaError, LumaEvent, LumaGuest, identity_key
from luma.errors import InvalidEmailError
from services import luma_webhooks
from store import cache
from store.models import (
    ApprovalPolicy,
    AutomationSettings,
    Event,
    EventSummary,
    Guest,
    Organization,
    PolicyDecision,
    utcnow,
)
from store.orgs import confirm_calendar
from store.profiles import refresh_profiles
from workflows.contracts.sync import (
    EventGuestsRef,
    EventsSynced,
    EventToSync,
    GuestRef,
    GuestsSynced,
    MissedRegistrationsRef,
    OrgRef,
)

log = logging.getLogger(__name__)

# Past events are re-read for this long after they end (late check-ins, final statuses).
RECENT = timedelta(days=7)
# At most this many missed registrations per event and sync go to its policy; the next sync
# hands it the rest (a policy only ever sees registrations made since it was switched on).
MISSED_PER_EVENT = 500


class RegistrationSink(Protocol):
    """Where a registration goes to an event's policy: `Automations.registration_arrived`,
    the signal-with-start the Luma webhook route sends."""

    def registration_arrived(self, org_id: int, event_id: str, guest_id: str) -> Awaitable[Any]: ...


def event_row(event: LumaEvent) -> dict[str, Any]:
    return {
        "luma_event_id": event.id,
        "name": event.name[:500],
        "start_at": event.start_at,
        "end_at": event.end_at,
        "timezone": event.timezone,
        "city": event.city,
        "country": event.country,
        "url": event.url,
        "raw": event.raw,
    }


def guest_row(guest: LumaGuest) -> dict[str, Any]:
    email = guest.email.strip()
    try:
        normalized = identity_key(email)
    except InvalidEmailError:
        normalized = email.lower()
    return {
        "luma_guest_id": guest.id,
        "email": email[:320],
        "normalized_email": normalized[:320],
        "email_domain": guest.email_domain[:255],
        "name": (guest.name or "")[:255],
        "approval_status": guest.approval_status[:32],
        "company": (guest.company or None) and guest.company[:255],
        "job_title": (guest.job_title or None) and guest.job_title[:255],
        "registration_answers": [
            {"label": a.label, "type": a.question_type, "answer": a.text}
            for a in guest.registration_answers
        ],
        "is_paid": guest.is_paid,
        "registered_at": guest.registered_at,
        "invited_at": guest.invited_at,
        "checked_in_at": guest.checked_in_at,
    }


class SyncActivities:
    """The I/O of the guest-list sync and of webhook-driven single-guest refreshes, and the
    sync's hand-over of registrations whose webhook never came to the approval policies."""

    def __init__(
        self,
        luma: LumaAccess,
        public_url: str | None = None,
        registrations: RegistrationSink | None = None,
    ) -> None:
        self.luma = luma
        self.sessions = luma.sessions
        self._public_url = public_url  # where Luma's webhooks go; the settings' by default
        # The worker's `Automations` (a Temporal client): missed registrations go there.
        self._registrations = registrations

    @activity.defn
    async def sync_events(self, org: OrgRef) -> EventsSynced:
        """Copy every event of the calendar; say which need their guests synced."""
        events: list[LumaEvent] = []
        # Heartbeats from the start: checking the calendar and its webhook waits on Luma's
        # budget too, and a silent wait reads as a dead worker (seen with 500 orgs at once).
        async with heartbeating(0) as progress:
            client = await self.luma.client(org.org_id, interactive=org.interactive)
            await self._confirm_calendar(org.org_id, client)
            if await self._repair_webhook(org.org_id, client, safety_net=org.safety_net):
                async with self.sessions() as session:
                    live = await session.scalar(
                        select(func.count()).where(
                            Event.org_id == org.org_id, Event.gone_at.is_(None)
                        )
                    )
                return EventsSynced(live or 0, [], checked_only=True)
            with luma_failures_are_final():
                async for event in client.iter_events():
                    events.append(event)
                    progress.value = len(events)
        async with self.sessions.begin() as session:
            await cache.upsert_events(
                session, org_id=org.org_id, events=[event_row(e) for e in events]
            )
            await session.execute(
                update(Event)
                .where(
                    Event.org_id == org.org_id,
                    Event.luma_event_id.not_in([e.id for e in events]),
                    Event.gone_at.is_(None),
                )
                .values(gone_at=utcnow())
            )
            stored = (
                await session.scalars(
                    select(Event).where(Event.org_id == org.org_id, Event.gone_at.is_(None))
                )
            ).all()
            summarized = set(
                await session.scalars(
                    select(EventSummary.luma_event_id).where(EventSummary.org_id == org.org_id)
                )
            )
            summary_delay = await session.scalar(
                select(func.min(AutomationSettings.summary_delay_minutes)).where(
                    AutomationSettings.org_id == org.org_id,
                    AutomationSettings.post_event_summary.is_(True),
                )
            )
        now = utcnow()
        to_sync = [
            EventToSync(
                event.luma_event_id,
                event.name,
                event.end_at,
                needs_summary=event.luma_event_id not in summarized
                and (event.end_at is None or event.end_at > now - RECENT),
            )
            for event in stored
            if event.guests_synced_at is None or event.end_at is None or event.end_at > now - RECENT
        ]
        return EventsSynced(len(stored), to_sync, summary_delay)

    async def _confirm_calendar(self, org_id: int, client: LumaClient) -> None:
        """An org linked when tenants were keyed on the key's user learns its calendar id
        from Luma at its next sync; until then (or if Luma cannot say) it keeps working."""
        async with self.sessions() as session:
            org = await session.get(Organization, org_id)
            if org is None or org.luma_calendar_id.startswith("cal-"):
                return
        try:
            calendar = await client.get_calendar()
        except LumaError as exc:
            log.warning("org %s: could not learn its Luma calendar: %s", org_id, exc)
            return
        async with self.sessions.begin() as session:
            if not await confirm_calendar(
                session, org_id=org_id, calendar_id=calendar.id, name=calendar.name
            ):
                log.warning("org %s: calendar %s is already another org's", org_id, calendar.id)

    async def _repair_webhook(
        self, org_id: int, client: LumaClient, *, safety_net: bool = False
    ) -> bool:
        """A calendar whose webhook Luma lost or paused gets a new one (one list request per
        sync, only for calendars that registered one); never fails the sync. True when the
        rest of a `safety_net` run can be left out: the webhook is active (as found, or
        repaired) and the last full pass is more recent than the safety net's interval."""
        async with self.sessions.begin() as session:
            org = await session.get(Organization, org_id)
            if org is None or org.webhook_status not in (
                luma_webhooks.ACTIVE,
                luma_webhooks.PENDING,
            ):
                return False
            public_url = self._public_url or get_settings().public_url
            status = await luma_webhooks.repair(
                session, org, client, keybox=self.luma.keybox, public_url=public_url
            )
            net = timedelta(minutes=defaults.WEBHOOK_SYNC_INTERVAL_MINUTES)
            return (
                safety_net
                and status == luma_webhooks.ACTIVE
                and org.last_synced_at is not None
                and utcnow() - org.last_synced_at < net
            )

    @activity.defn
    async def sync_event_guests(self, ref: EventGuestsRef) -> GuestsSynced:
        """Copy one event's whole guest list, then mark the guests Luma no longer has."""
        client = await self.luma.client(ref.org_id, interactive=ref.interactive)
        started = utcnow()
        upserted = 0
        async with heartbeating(0) as progress:
            cursor: str | None = None
            while True:
                with luma_failures_are_final():
                    page = await client.list_guests_page(ref.event_id, cursor=cursor)
                async with self.sessions.begin() as session:
                    upserted += await cache.upsert_guests(
                        session,
                        org_id=ref.org_id,
                        luma_event_id=ref.event_id,
                        guests=[guest_row(g) for g in page.entries],
                    )
                progress.value = upserted
                if not (page.has_more and page.next_cursor):
                    break
                cursor = page.next_cursor
        async with self.sessions.begin() as session:
            gone = await cache.mark_guests_gone(
                session, org_id=ref.org_id, luma_event_id=ref.event_id, fetched_before=started
            )
            await session.execute(
                update(Event)
                .where(Event.org_id == ref.org_id, Event.luma_event_id == ref.event_id)
                .values(guests_synced_at=utcnow())
            )
        return GuestsSynced(ref.event_id, upserted, gone)

    @activity.defn
    async def deliver_missed_registrations(self, ref: MissedRegistrationsRef) -> int:
        """The sync as a safety net for Luma's webhooks: each synced event's pending guests
        that registered since its policy was switched on and that the policy never decided
        go to the policy workflow, as their `guest.registered` webhook would have sent them.
        A retry sends them again, which is harmless: the workflow keeps one of each, and
        guests decided meanwhile are skipped. Returns how many were handed over."""
        if self._registrations is None:
            log.warning("org %s: no Temporal client to hand missed registrations to", ref.org_id)
            return 0
        delivered = 0
        async with heartbeating(0) as progress:
            missed = await self._missed(ref)
            for event_id, guest_ids in missed.items():
                for guest_id in guest_ids:
                    await self._registrations.registration_arrived(ref.org_id, event_id, guest_id)
                    delivered += 1
                    progress.value = delivered
                log.info(
                    "org %s event %s: the sync handed %d registration(s) no webhook brought "
                    "to the approval policy",
                    ref.org_id,
                    event_id,
                    len(guest_ids),
                )
        metrics.missed_registrations(delivered)
        return delivered

    async def _missed(self, ref: MissedRegistrationsRef) -> dict[str, list[str]]:
        """Each event's missed registrations (`missed_registrations`), events with none left
        out; one query when no policy of the org is on."""
        missed: dict[str, list[str]] = {}
        async with self.sessions() as session:
            any_on = await session.scalar(
                select(ApprovalPolicy.id)
                .where(ApprovalPolicy.org_id == ref.org_id, ApprovalPolicy.mode != "off")
                .limit(1)
            )
            for event_id in ref.event_ids if any_on is not None else []:
                policy = await policy_for(session, org_id=ref.org_id, event_id=event_id)
                guest_ids = await missed_registrations(
                    session, org_id=ref.org_id, policy=policy, limit=MISSED_PER_EVENT
                )
                if guest_ids:
                    missed[event_id] = guest_ids
        return missed

    @activity.defn
    async def finish_org_sync(self, org: OrgRef) -> int:
        """Record the sync's freshness and rebuild the org's guest profiles; returns how many."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Organization)
                .where(Organization.id == org.org_id)
                .values(last_synced_at=utcnow())
            )
            return await refresh_profiles(session, org_id=org.org_id)

    @activity.defn
    async def refresh_guest(self, ref: GuestRef) -> str:
        """Re-read one guest from Luma (a webhook told us it changed) and cache it."""
        client = await self.luma.client(ref.org_id)
        with luma_failures_are_final():
            guest = await client.get_guest(ref.event_id, email=ref.email, guest_id=ref.guest_id)
        async with self.sessions.begin() as session:
            await cache_one_guest(session, ref.org_id, ref.event_id, guest)
        return guest.approval_status


async def cache_one_guest(
    session: AsyncSession, org_id: int, event_id: str, guest: LumaGuest
) -> None:
    """Cache one guest Luma just told us about; their profile follows at once (the rest of
    the org's profiles wait for the next full sync)."""
    row = guest_row(guest)
    await cache.upsert_guests(session, org_id=org_id, luma_event_id=event_id, guests=[row])
    await refresh_profiles(session, org_id=org_id, emails=[row["normalized_email"]])


async def missed_registrations(
    session: AsyncSession, *, org_id: int, policy: PolicyView, limit: int
) -> list[str]:
    """The event's cached pending guests its policy has not decided, registered since the
    policy was switched on, first registered first (none while it is off, or when it is not
    known since when it is on: the backlog is the organizer's, through /policy test)."""
    if policy.mode == "off" or policy.on_since is None:
        return []
    decided = and_(
        PolicyDecision.org_id == Guest.org_id,
        PolicyDecision.luma_event_id == Guest.luma_event_id,
        PolicyDecision.luma_guest_id == Guest.luma_guest_id,
    )
    rows = await session.scalars(
        select(Guest.luma_guest_id)
        .outerjoin(PolicyDecision, decided)
        .where(
            Guest.org_id == org_id,
            Guest.luma_event_id == policy.event_id,
            Guest.approval_status == "pending_approval",
            Guest.gone_at.is_(None),
            Guest.registered_at >= policy.on_since,
            PolicyDecision.id.is_(None),
        )
        .order_by(Guest.registered_at, Guest.luma_guest_id)
        .limit(limit)
    )
    return list(rows)
