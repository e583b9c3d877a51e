"""`Billing`: which plan an org has, and the Stripe links to change it.

With no STRIPE_API_KEY billing is off: every org has DEFAULT_PLAN (self-hosted installs)
and nothing talks to Stripe. With a key, an org's plan is `Organization.plan`, which only
the Stripe webhook changes (new orgs start on the free plan).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing.plans import Plan, PlanCatalog, load_catalog
from billing.stripe_gateway import BillingUnavailable, StripeGateway
from core.settings import ConfigError, Settings
from store.models import BillingSubscription, Organization

# Stripe subscription statuses that still grant (and bill for) a plan.
LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})


def live_subscription(row: BillingSubscription | None) -> bool:
    """Whether the org has a subscription Stripe still bills."""
    return row is not None and bool(row.stripe_subscription_id) and row.status in LIVE_STATUSES


@dataclass(frozen=True)
class Billing:
    """Plans, the install's default plan, and Stripe when it is configured."""

    catalog: PlanCatalog
    default_plan: Plan
    gateway: StripeGateway | None = None
    public_url: str = "http://127.0.0.1:8000"
    gemini_cap: int | None = None  # the operator's own cap on Gemini questions per org a day

    @classmethod
    def from_settings(cls, settings: Settings) -> Billing:
        catalog = load_catalog(settings.billing_plans_file)
        default = catalog.get(settings.default_plan)
        if default is None:
            names = ", ".join(plan.key for plan in catalog.plans)
            raise ConfigError(f"DEFAULT_PLAN {settings.default_plan!r} is not a plan ({names}).")
        gateway = None
        if settings.stripe_api_key is not None:
            secret = settings.stripe_webhook_secret
            gateway = StripeGateway(
                settings.stripe_api_key.get_secret_value(),
                webhook_secret=secret.get_secret_value() if secret else None,
                api_base=settings.stripe_api_base,
            )
        return cls(
            catalog,
            default,
            gateway,
            settings.public_url.rstrip("/"),
            settings.gemini_daily_quota,
        )

    @property
    def enabled(self) -> bool:
        return self.gateway is not None

    def plan_of(self, org: Organization) -> Plan:
        """The plan whose limits apply to the org's new work."""
        if not self.enabled:
            return self.default_plan
        return self.catalog.get(org.plan) or self.catalog.free

    async def plan_for(self, session: AsyncSession, *, org_id: int) -> Plan:
        org = await session.get(Organization, org_id)
        if org is None:
            return self.catalog.free if self.enabled else self.default_plan
        return self.plan_of(org)

    def gemini_limit(self, plan: Plan) -> int | None:
        limits = [x for x in (plan.gemini_questions_per_day, self.gemini_cap) if x is not None]
        return min(limits) if limits else None

    # -- Stripe links ---------------------------------------------------------------------

    def _gateway(self) -> StripeGateway:
        if self.gateway is None:
            raise BillingUnavailable(
                f"Billing is off on this install: every calendar has the "
                f"{self.default_plan.name} plan."
            )
        return self.gateway

    async def checkout_url(self, session: AsyncSession, *, org: Organization, plan: Plan) -> str:
        """A Checkout link subscribing `org` to `plan` (its Stripe customer made on first use).

        The caller commits: the customer id is saved so the portal can find it later.
        """
        gateway = self._gateway()
        if plan.stripe_price_id is None:
            raise BillingUnavailable(f"The {plan.name} plan cannot be bought.")
        subscription = await subscription_of(session, org_id=org.id, plan=org.plan)
        if live_subscription(subscription):
            # A second Checkout would start a second subscription, billed beside the first.
            raise BillingUnavailable(
                "This calendar already has a subscription: change its plan in the subscription "
                "portal (/billing, or Manage subscription on the web portal's Plan page)."
            )
        if subscription.stripe_customer_id is None:
            subscription.stripe_customer_id = await gateway.create_customer(
                org_id=org.id, name=org.name
            )
            await session.flush()
        return await gateway.checkout_url(
            org_id=org.id,
            plan=plan.key,
            price_id=plan.stripe_price_id,
            customer_id=subscription.stripe_customer_id,
            success_url=f"{self.public_url}/web/plan?checkout=done",
            cancel_url=f"{self.public_url}/web/plan?checkout=cancelled",
        )

    async def portal_url(self, session: AsyncSession, *, org: Organization) -> str:
        gateway = self._gateway()
        subscription = await session.get(BillingSubscription, org.id)
        if subscription is None or subscription.stripe_customer_id is None:
            raise BillingUnavailable("This calendar has no subscription yet: /upgrade starts one.")
        return await gateway.portal_url(
            customer_id=subscription.stripe_customer_id, return_url=f"{self.public_url}/web/plan"
        )


async def subscription_of(session: AsyncSession, *, org_id: int, plan: str) -> BillingSubscription:
    """The org's subscription row, created (without Stripe ids) when missing."""
    subscription = await session.get(BillingSubscription, org_id)
    if subscription is None:
        subscription = BillingSubscription(org_id=org_id, plan=plan, status="none")
        session.add(subscription)
        await session.flush()
    return subscription
