"""SaaS plans and Stripe billing: which plan an org has, its limits, and Stripe to change it.

- `plans`: the plan catalog, read from configuration (BILLING_PLANS_FILE or plans.json).
- `service.Billing`: an org's effective plan; Checkout and customer-portal links.
- `limits`: the checks run where work costs us (bulk, Gemini, sync interval, chats, people).
- `usage`: today's counters against the plan, for /status, the API and the web portal.
- `webhooks`: Stripe events applied once each to the org's plan.
"""

from billing.limits import LimitExceeded, PlanQuota
from billing.plans import Plan, PlanCatalog, PlanConfigError, load_catalog
from billing.service import Billing, live_subscription
from billing.stripe_gateway import BadSignature, BillingUnavailable, StripeGateway

__all__ = [
    "BadSignature",
    "Billing",
    "BillingUnavailable",
    "LimitExceeded",
    "Plan",
    "PlanCatalog",
    "PlanConfigError",
    "PlanQuota",
    "StripeGateway",
    "live_subscription",
    "load_catalog",
]
