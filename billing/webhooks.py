"""Stripe webhook events applied to the org's plan, each event id exactly once.

The event id is inserted first (`ON CONFLICT DO NOTHING`) in the same transaction as the
plan change, so a replayed or concurrently redelivered event finds its id taken and changes
nothing. A plan change only moves `Organization.plan`: running jobs keep going, data is
kept, and the new limits apply to work started afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.plans import Plan
from billing.service import LIVE_STATUSES, Billing, subscription_of
from store import audit
from store.db import upsert_insert
from store.models import BillingSubscription, Organization, StripeEvent, utcnow

log = logging.getLogger(__name__)

CHECKOUT_COMPLETED = "checkout.session.completed"
SUBSCRIPTION_UPDATED = "customer.subscription.updated"
SUBSCRIPTION_DELETED = "customer.subscription.deleted"
# Stripe keeps serving a subscription in these states; others end the paid plan.


@dataclass(frozen=True)
class Applied:
    """What one delivery did: `replay` and `ignored` changed nothing."""

    event_id: str
    result: str  # applied | replay | ignored | unknown org
    org_id: int | None = None
    plan: str | None = None


def _org_id(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


def _period_end(subscription: dict[str, Any]) -> datetime | None:
    """Newer API versions put the period on the items, older ones on the subscription."""
    items = (subscription.get("items") or {}).get("data") or []
    stamp = subscription.get("current_period_end") or next(
        (item.get("current_period_end") for item in items if item.get("current_period_end")),
        None,
    )
    return datetime.fromtimestamp(int(stamp), UTC) if stamp else None


def _price_id(subscription: dict[str, Any]) -> str | None:
    items = (subscription.get("items") or {}).get("data") or []
    return next((str((item.get("price") or {}).get("id")) for item in items), None)


async def _claim(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Record the event id; False when it was recorded before (a replay)."""
    statement = (
        upsert_insert(session.get_bind().dialect.name, StripeEvent)
        .values(
            id=str(event["id"])[:255],
            type=str(event["type"])[:64],
            result="received",
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def _subscription_org(session: AsyncSession, obj: dict[str, Any]) -> int | None:
    """The org a subscription belongs to: by our metadata, else by its Stripe ids."""
    org_id = _org_id((obj.get("metadata") or {}).get("org_id"))
    if org_id is not None:
        return org_id
    for column, value in (
        (BillingSubscription.stripe_subscription_id, obj.get("id")),
        (BillingSubscription.stripe_customer_id, obj.get("customer")),
    ):
        if value:
            found = await session.scalar(select(BillingSubscription.org_id).where(column == value))
            if found is not None:
                return found
    return None


def _plan_of_subscription(billing: Billing, obj: dict[str, Any]) -> Plan:
    if obj.get("status") not in LIVE_STATUSES:
        return billing.catalog.free
    named = billing.catalog.get(str((obj.get("metadata") or {}).get("plan") or ""))
    return billing.catalog.for_price(_price_id(obj)) or named or billing.catalog.free


async def apply_event(session: AsyncSession, billing: Billing, event: dict[str, Any]) -> Applied:
    """Apply a verified event in the caller's transaction (the caller commits)."""
    event_id = str(event["id"])
    if not await _claim(session, event):
        return Applied(event_id, "replay")
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    kind = event["type"]
    plan: Plan | None = None
    if kind == CHECKOUT_COMPLETED:
        org_id = _org_id(obj.get("client_reference_id")) or _org_id(
            (obj.get("metadata") or {}).get("org_id")
        )
        plan = billing.catalog.get(str((obj.get("metadata") or {}).get("plan") or ""))
        status = "active"
        if obj.get("payment_status") not in (None, "paid", "no_payment_required"):
            # A delayed payment method: the subscription's own update grants the plan.
            return await _finish(session, event_id, Applied(event_id, "ignored", org_id))
    elif kind in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_DELETED):
        org_id = await _subscription_org(session, obj)
        if kind == SUBSCRIPTION_DELETED:
            plan, status = billing.catalog.free, "canceled"
        else:
            plan, status = _plan_of_subscription(billing, obj), str(obj.get("status") or "")
    else:
        return await _finish(session, event_id, Applied(event_id, "ignored"))
    org = await session.get(Organization, org_id) if org_id is not None else None
    if org is not None and kind != CHECKOUT_COMPLETED and await _stale(session, org.id, obj, kind):
        return await _finish(session, event_id, Applied(event_id, "ignored", org.id))
    if org is None or plan is None:
        log.warning("Stripe event %s (%s) names no org or plan of ours", event_id, kind)
        return await _finish(session, event_id, Applied(event_id, "unknown org"))
    subscription = await subscription_of(session, org_id=org.id, plan=plan.key)
    subscription_id = obj.get("subscription") if kind == CHECKOUT_COMPLETED else obj.get("id")
    subscription.stripe_customer_id = obj.get("customer") or subscription.stripe_customer_id
    subscription.stripe_subscription_id = subscription_id or subscription.stripe_subscription_id
    subscription.plan, subscription.status = plan.key, status[:32]
    if kind != CHECKOUT_COMPLETED:
        subscription.current_period_end = _period_end(obj)
    before, org.plan = org.plan, plan.key
    await audit.record(
        session,
        org_id=org.id,
        source="api",
        action="plan_change",
        result="applied",
        target={"from": before, "to": plan.key, "stripe_event": event_id, "type": kind},
    )
    return await _finish(session, event_id, Applied(event_id, "applied", org.id, plan.key))


async def _stale(session: AsyncSession, org_id: int, obj: dict[str, Any], kind: str) -> bool:
    """Whether a subscription event must not touch the plan: an update arriving after its
    subscription's deletion (Stripe does not promise order; a deletion is final), or an event
    of another subscription while the org's recorded one is live."""
    row = await session.get(BillingSubscription, org_id)
    if row is None or not row.stripe_subscription_id:
        return False
    if row.stripe_subscription_id == obj.get("id"):
        return kind == SUBSCRIPTION_UPDATED and row.status == "canceled"
    return row.status in LIVE_STATUSES


async def _finish(session: AsyncSession, event_id: str, applied: Applied) -> Applied:
    row = await session.get(StripeEvent, event_id)
    if row is not None:
        row.result, row.org_id = applied.result, applied.org_id
    await session.flush()
    return applied
