"""Plan: the org's plan, its limits and today's usage; for admins, Stripe Checkout to upgrade
and the Stripe customer portal to manage the subscription.

The plan only changes when Stripe's webhook arrives (see `api.routes.stripe`), never here:
a Checkout link that is never paid changes nothing. With billing off (no STRIPE_API_KEY)
the page says so and shows the install's plan (DEFAULT_PLAN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession

from billing import Billing, BillingUnavailable, live_subscription
from billing.limits import BULK_GUESTS, GEMINI
from billing.usage import UsageSnapshot, usage_snapshot
from services import audit
from store.models import BillingSubscription, Organization, utcnow
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Plans, Reader
from web.errors import WebError, not_found
from web.render import HEADERS, page, see_other

router = APIRouter(prefix="/plan")
# Upgrade and Manage post here, then the browser is sent on to Stripe's own pages.
STRIPE_FORM_TARGETS = "https://checkout.stripe.com https://billing.stripe.com"


@dataclass(frozen=True)
class LimitRow:
    """One line of the limits table: what the plan allows and what is used now or today."""

    label: str
    allowed: str
    used: str = ""


def _most(value: int | None, unit: str = "") -> str:
    return f"{value:,}{unit}" if value is not None else "no limit"


def limit_rows(snapshot: UsageSnapshot) -> list[LimitRow]:
    """The snapshot's limits beside today's counters, in words."""
    data: dict[str, Any] = snapshot.as_dict()
    limits, used = data["limits"], data["used"]
    fastest = limits["min_sync_interval_minutes"]
    return [
        LimitRow(
            "Guests per bulk job",
            _most(limits["max_bulk_guests"]),
            f"{used.get(BULK_GUESTS, 0):,} in bulk jobs today",
        ),
        LimitRow(
            "Smart-language questions a day",
            _most(limits["gemini_questions_per_day"]),
            f"{used.get(GEMINI, 0):,} today",
        ),
        LimitRow("Linked chats", _most(limits["linked_chats"]), f"{data['linked_chats']:,}"),
        LimitRow("Team members", _most(limits["team_members"]), f"{data['team_members']:,}"),
        LimitRow("Calendars per admin", _most(limits["calendars"])),
        LimitRow("Fastest scheduled sync", f"every {fastest or 1} min"),
        LimitRow("Enrichment", "included" if limits["enrichment"] else "not included"),
    ]


async def _org(session: AsyncSession, viewer: Viewer) -> Organization:
    org = await session.get(Organization, viewer.org_id)
    if org is None:
        raise not_found("calendar")
    return org


@router.get("")
async def plan_page(request: Request, viewer: Reader, deps: Api, billing: Plans) -> object:
    async with deps.sessions() as session:
        org = await _org(session, viewer)
        snapshot = await usage_snapshot(session, billing, org=org, day=utcnow().date())
        subscription = await session.get(BillingSubscription, org.id)
        response = await page(
            request,
            session,
            viewer,
            "plan.html",
            snapshot=snapshot,
            rows=limit_rows(snapshot),
            default_plan=billing.default_plan,
            # A live subscription changes plan in Stripe's portal, never by a second Checkout.
            upgrades=[]
            if not billing.enabled or live_subscription(subscription)
            else billing.catalog.upgrades_from(billing.plan_of(org)),
            has_customer=bool(subscription and subscription.stripe_customer_id),
            checkout=request.query_params.get("checkout"),  # back from Stripe Checkout
            nav="plan",
        )
    response.headers["Content-Security-Policy"] = HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {STRIPE_FORM_TARGETS}"
    )
    return response


def _stripe_refused(exc: BillingUnavailable) -> WebError:
    return WebError(409, "Billing", str(exc))


async def _checkout(session: AsyncSession, billing: Billing, viewer: Viewer, key: str) -> str:
    org = await _org(session, viewer)
    wanted = billing.catalog.get(key)
    above = billing.catalog.upgrades_from(billing.plan_of(org)) if billing.enabled else []
    if billing.enabled and (wanted is None or wanted not in above):
        names = ", ".join(plan.name for plan in above) or "none (this is the largest plan)"
        raise WebError(400, "Not an upgrade", f"Plans you can upgrade to: {names}.")
    try:  # with billing off this says so (and names the install's plan)
        url = await billing.checkout_url(session, org=org, plan=wanted or billing.default_plan)
    except BillingUnavailable as exc:
        raise _stripe_refused(exc) from None
    await audit.record(caller_of(viewer), session, "checkout_link", {"plan": key})
    return url


@router.post("/checkout")
async def upgrade(
    viewer: Admin, deps: Api, billing: Plans, plan: Annotated[str, Form(max_length=32)] = ""
) -> object:
    """A Stripe Checkout session for the org and the chosen plan; the browser goes there."""
    async with deps.sessions.begin() as session:  # commits the Stripe customer id
        url = await _checkout(session, billing, viewer, plan)
    return see_other(url)


@router.post("/manage")
async def manage(viewer: Admin, deps: Api, billing: Plans) -> object:
    """The Stripe customer portal for the org's subscription (card, invoices, cancel)."""
    async with deps.sessions.begin() as session:
        org = await _org(session, viewer)
        try:
            url = await billing.portal_url(session, org=org)
        except BillingUnavailable as exc:
            raise _stripe_refused(exc) from None
        await audit.record(caller_of(viewer), session, "billing_portal_link", {})
    return see_other(url)
