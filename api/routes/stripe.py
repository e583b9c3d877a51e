"""Billing in the control API: the Stripe webhook, the org's plan and usage, Stripe links.

`POST /stripe/webhook` takes no API token: Stripe signs each delivery, and only a body whose
`Stripe-Signature` verifies with the endpoint secret (and is under five minutes old) is
applied. The other routes are the token's org's, like every `/v1` route.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from api.deps import ApiDeps, CurrentOrg, DepsDep, SessionDep
from api.errors import ApiError, ErrorPublic, not_found
from billing import BadSignature, Billing, BillingUnavailable
from billing.usage import usage_snapshot
from billing.webhooks import apply_event
from core.settings import get_settings
from services.plan_sync import follow_plan
from store.models import Organization, utcnow

log = logging.getLogger(__name__)

router = APIRouter(tags=["billing"])


async def get_billing(request: Request) -> Billing:
    """The app's billing (tests set `app.state.billing`; a served app builds it once)."""
    billing: Billing | None = getattr(request.app.state, "billing", None)
    if billing is None:
        billing = Billing.from_settings(get_settings())
        request.app.state.billing = billing
    return billing


BillingDep = Annotated[Billing, Depends(get_billing)]


PLAN_LIMIT_RESPONSE: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorPublic, "description": "over the plan's limit (code plan_limit)"}
}


class WebhookResult(BaseModel):
    received: bool = True
    result: str = Field(description="applied, replay (already applied), ignored or unknown org")


class UsagePublic(BaseModel):
    """The org's plan, its limits, and today's (UTC) usage counters."""

    org_id: int
    plan: str
    plan_name: str
    billing_enabled: bool
    subscription_status: str
    current_period_end: str | None
    day: str
    limits: dict[str, Any]
    used: dict[str, int]
    linked_chats: int
    team_members: int
    upgrades: list[str]


class CheckoutCreate(BaseModel):
    plan: str = Field(min_length=1, max_length=32, description="a plan key, e.g. pro")


class LinkPublic(BaseModel):
    url: str
    kind: Literal["checkout", "portal"]


@router.post(
    "/stripe/webhook",
    summary="Stripe events (signed by Stripe; no API token)",
    include_in_schema=True,
)
async def stripe_webhook(
    request: Request,
    deps: DepsDep,
    billing: BillingDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookResult:
    if billing.gateway is None:
        raise ApiError(404, "Billing is off on this install.")
    payload = await request.body()
    try:
        event = billing.gateway.verified_event(payload, stripe_signature)
    except BadSignature as exc:
        log.warning("Stripe webhook refused: %s", exc)
        raise ApiError(400, "The Stripe-Signature header does not verify.") from None
    async with deps.sessions.begin() as session:
        applied = await apply_event(session, billing, event)
    log.info("Stripe event %s: %s", applied.event_id, applied.result)
    if applied.result == "applied" and applied.org_id is not None:
        await _follow_plan(deps, billing, applied.org_id)
    return WebhookResult(result=applied.result)


async def _follow_plan(deps: ApiDeps, billing: Billing, org_id: int) -> None:
    """Move the org's schedules to its new plan; the plan change itself is already saved,
    so Temporal being down only delays this until the next plan change or relink."""
    async with deps.sessions() as session:
        org = await session.get(Organization, org_id)
        if org is None:
            return
        try:
            await follow_plan(session, billing, deps.automations, org=org)
        except (RPCError, RuntimeError) as exc:
            log.warning("schedules of org %s not moved to its new plan: %s", org_id, exc)


async def _org(session: SessionDep, org_id: int) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise not_found("organization")
    return org


@router.get("/v1/usage", summary="Your plan, its limits and today's usage")
async def get_usage(org_id: CurrentOrg, session: SessionDep, billing: BillingDep) -> UsagePublic:
    org = await _org(session, org_id)
    snapshot = await usage_snapshot(session, billing, org=org, day=utcnow().date())
    return UsagePublic(**snapshot.as_dict())


@router.post("/v1/billing/checkout", summary="A Stripe Checkout link to subscribe to a plan")
async def checkout(
    org_id: CurrentOrg, deps: DepsDep, billing: BillingDep, body: CheckoutCreate
) -> LinkPublic:
    plan = billing.catalog.get(body.plan)
    if plan is None or plan.stripe_price_id is None:
        names = ", ".join(p.key for p in billing.catalog.purchasable())
        raise ApiError(400, f"Unknown plan {body.plan!r}; plans to buy: {names or 'none'}.")
    try:
        async with deps.sessions.begin() as session:
            org = await _org(session, org_id)
            url = await billing.checkout_url(session, org=org, plan=plan)
    except BillingUnavailable as exc:
        raise ApiError(409, str(exc)) from None
    return LinkPublic(url=url, kind="checkout")


@router.post("/v1/billing/portal", summary="A Stripe customer-portal link")
async def portal(org_id: CurrentOrg, session: SessionDep, billing: BillingDep) -> LinkPublic:
    org = await _org(session, org_id)
    try:
        url = await billing.portal_url(session, org=org)
    except BillingUnavailable as exc:
        raise ApiError(409, str(exc)) from None
    return LinkPublic(url=url, kind="portal")
