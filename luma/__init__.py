"""Luma API client: typed models for every response generation, shared rate budget, retries.

Use one `LumaPool` per process and ask it for a `LumaClient` per key:

    async with LumaPool(settings.luma_api_url, budget=budget) as pool:
        luma = pool.client(api_key, budget_key=calendar_id)
        async for guest in luma.iter_guests(event_id):
            ...

The local stand-in for the API (demo, tests) lives in `standins.luma`, outside the product.
"""

from luma.client import LumaClient, LumaPool
from luma.emails import email_domain, identity_key, normalize_email
from luma.errors import (
    BadRequestError,
    InvalidEmailError,
    InvalidKeyError,
    LumaError,
    LumaProtocolError,
    LumaUnavailableError,
    NotFoundError,
    RateLimitedError,
)
from luma.models import (
    ApprovalStatus,
    LumaCalendar,
    LumaContactTag,
    LumaEvent,
    LumaGuest,
    LumaPerson,
    LumaTag,
    LumaTagApplied,
    LumaTicket,
    LumaUser,
    LumaWebhook,
    Page,
    RegistrationAnswer,
)
from luma.ratelimit import BudgetPolicy, RateBudget

__all__ = [
    "ApprovalStatus",
    "BadRequestError",
    "BudgetPolicy",
    "InvalidEmailError",
    "InvalidKeyError",
    "LumaCalendar",
    "LumaClient",
    "LumaContactTag",
    "LumaError",
    "LumaEvent",
    "LumaGuest",
    "LumaPerson",
    "LumaPool",
    "LumaProtocolError",
    "LumaTag",
    "LumaTagApplied",
    "LumaTicket",
    "LumaUnavailableError",
    "LumaUser",
    "LumaWebhook",
    "NotFoundError",
    "Page",
    "RateBudget",
    "RateLimitedError",
    "RegistrationAnswer",
    "email_domain",
    "identity_key",
    "normalize_email",
]
