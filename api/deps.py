"""The clients a running API holds, and the `Annotated` dependencies routes declare.

`CurrentOrg` is the tenant boundary: it turns the bearer token into an org id (and counts
the request against the token's rate limit, which every API process shares through the
database: `store.request_limits`). Every route that reads or writes tenant data takes it and
passes it on, so no query can run without an org.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ApiError, not_found
from api.telegram import TelegramWebhook
from core.defaults import API_REQUESTS_PER_MINUTE
from core.logs import bind_log_context
from core.settings import Settings, get_settings
from intel.rubric import RubricReader
from intel.vip import VipRules
from services.automations import Automations
from services.caller import Caller
from store import cache, tokens
from store.models import Event, Role
from store.request_limits import Over, Quota, RequestLimits, retry_after
from store.tokens import TokenHolder

# Luma ids look like `evt-…`; anything else cannot name a cached event.
LUMA_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


@dataclass
class ApiDeps:
    """What the lifespan connects (or a test hands in): database sessions and Temporal.

    `telegram` is the bot's webhook receiver, present only in webhook mode.
    """

    sessions: async_sessionmaker[AsyncSession]
    automations: Automations
    telegram: TelegramWebhook | None = None
    # The settings' VIP rules (unless a test hands some): only the defaults of orgs without
    # their own; everything that scores an org's people asks `intel.vip_rules.vip_rules_for`.
    vip_rules: VipRules = field(default_factory=lambda: VipRules.from_settings(get_settings()))
    rubric: RubricReader | None = None  # approval rubrics' reader (Gemini); None: not set up


@dataclass(frozen=True)
class ApiLimits:
    """Guards against runaway clients (tests pass smaller or larger ones). The request rates
    hold across processes (`store.request_limits`); the body limit is per request."""

    requests_per_minute: int = API_REQUESTS_PER_MINUTE  # per token
    max_body_bytes: int = 256 * 1024  # bulk filters with 1,000 emails stay far below
    # The portal: opening and spending sign-in links per client address; form posts per
    # signed-in person, and per client address (an office may share one).
    portal_signins_per_minute: int = 20
    portal_writes_per_minute: int = 60
    portal_client_writes_per_minute: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiLimits:
        return cls(requests_per_minute=settings.api_requests_per_minute)

    @property
    def token_quota(self) -> Quota:
        return Quota("api-token", self.requests_per_minute, 60.0)

    @property
    def portal_signin_quota(self) -> Quota:
        return Quota("web-signin", self.portal_signins_per_minute, 60.0)

    @property
    def portal_write_quotas(self) -> tuple[Quota, Quota]:
        """Per person, per client address."""
        return (
            Quota("web-person", self.portal_writes_per_minute, 60.0),
            Quota("web-client", self.portal_client_writes_per_minute, 60.0),
        )


async def get_deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps


DepsDep = Annotated[ApiDeps, Depends(get_deps)]


async def get_session(deps: DepsDep) -> AsyncIterator[AsyncSession]:
    """A read session for the route; writes open their own transaction explicitly."""
    async with deps.sessions() as session:
        yield session


# Closed when the route returns, not after the response: a streamed CSV export must not
# hold this connection for the whole download.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_automations(deps: DepsDep) -> Automations:
    return deps.automations


AutomationsDep = Annotated[Automations, Depends(get_automations)]

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from the bot (`/token new`); revoke it with `/token revoke`.",
)


async def current_holder(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenHolder:
    """Whom the bearer token acts for; 401 without a live token or when the member who made
    it is no longer an admin of the org (removed or demoted), 429 over its rate.

    Checked, counted and committed on the request's own session, before the route reads on
    it: one connection a request, not one for the token and another for the route."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            "Send `Authorization: Bearer <token>`; create a token in the bot with /token new.",
            headers=challenge,
        )
    limiter: RequestLimits = request.app.state.limiter
    quota = request.app.state.limits.token_quota
    over: list[Over] = []
    holder = await tokens.token_holder(session, token=credentials.credentials)
    if holder is not None and holder.role is Role.ADMIN:  # only live tokens have counts
        # In the lookup's transaction: no second connection or commit per request.
        over = await limiter.hit((quota, credentials.credentials), session=session)
    # Ends the transaction (the count's row lock with it); the route's reads begin a new one.
    await session.commit()
    if holder is None:
        raise ApiError(401, "This API token is unknown or has been revoked.", headers=challenge)
    if holder.role is not Role.ADMIN:  # only admins make tokens; one who is no longer...
        raise ApiError(
            401,
            "The member who made this API token is no longer an admin of the calendar, so "
            "it no longer works; an admin makes a new one with /token new.",
            headers=challenge,
        )
    if over:
        seconds = retry_after(over)
        raise ApiError(
            429,
            f"Too many requests for this token; retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
    bind_log_context(org=holder.org_id)  # this request's log lines name the org (core.logs)
    return holder


CurrentHolder = Annotated[TokenHolder, Depends(current_holder)]


async def current_org(holder: CurrentHolder) -> int:
    """The tenant boundary: the org of the token's holder."""
    return holder.org_id


CurrentOrg = Annotated[int, Depends(current_org)]


async def current_caller(holder: CurrentHolder) -> Caller:
    """The token as a use case's caller: its maker, an admin (checked on every request)."""
    return Caller(holder.org_id, Role.ADMIN, "api", holder.created_by)


CurrentCaller = Annotated[Caller, Depends(current_caller)]

EventId = Annotated[str, Path(pattern=LUMA_ID_PATTERN, description="Luma event id (evt-…)")]


async def org_event(event_id: EventId, org_id: CurrentOrg, session: SessionDep) -> Event:
    """The org's cached event; another org's event is as unknown as a made-up id."""
    event = await cache.get_event(session, org_id=org_id, luma_event_id=event_id)
    if event is None or event.gone_at is not None:
        raise not_found("event")
    return event


OrgEvent = Annotated[Event, Depends(org_event)]
