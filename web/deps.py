"""What the portal's pages declare: the signed-in viewer, admin rights, CSRF, rate limits,
and clients.

`WebDeps` holds what only the portal needs (settings, a Luma pool to verify a replacement
key); the database sessions and the Temporal starter are the control API's own `ApiDeps`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

from fastapi import Depends, Form, Request

from api.deps import ApiDeps, ApiLimits, get_deps
from api.routes.stripe import BillingDep
from core.settings import Environment, Settings
from luma import LumaPool
from store.crypto import KeyBox
from store.request_limits import Check, RequestLimits, retry_after
from web.auth import COOKIE, Viewer, csrf_ok, viewer_for_cookie
from web.errors import WebError


@dataclass
class WebDeps:
    """The portal's own clients; the keybox is opened only when a key is replaced."""

    settings: Settings
    luma: LumaPool
    keybox_override: KeyBox | None = field(default=None)

    @cached_property
    def keybox(self) -> KeyBox:
        return self.keybox_override or KeyBox(self.settings.resolved_encryption_keys())

    @property
    def secure_cookies(self) -> bool:
        return self.settings.environment == Environment.PRODUCTION


@asynccontextmanager
async def connect_web(settings: Settings) -> AsyncIterator[WebDeps]:
    """The portal's Luma pool (for get-self on a new key), closed with the process."""
    async with LumaPool(
        settings.luma_api_url,
        legacy_paths=settings.luma_legacy_paths,
        timeout=settings.luma_timeout_seconds,
    ) as pool:
        yield WebDeps(settings, pool)


async def get_web(request: Request) -> WebDeps:
    web: WebDeps = request.app.state.web
    return web


WebDep = Annotated[WebDeps, Depends(get_web)]
Api = Annotated[ApiDeps, Depends(get_deps)]
Plans = BillingDep  # the control API's billing: plans, limits and Stripe links


async def current_viewer(request: Request, deps: Api) -> Viewer:
    async with deps.sessions() as session:
        viewer = await viewer_for_cookie(session, cookie=request.cookies.get(COOKIE))
    if viewer is None:
        raise WebError(
            401,
            "Please sign in",
            "Send /web to the bot in Telegram: it answers with a sign-in link for you.",
        )
    return viewer


Reader = Annotated[Viewer, Depends(current_viewer)]


async def within_limits(request: Request, *checks: Check) -> None:
    """429 when a request is over one of the portal's rates, which every API process shares
    (`store.request_limits`: it lets requests through when the database is down)."""
    limiter: RequestLimits = request.app.state.limiter
    over = await limiter.hit(*checks)
    if over:
        seconds = retry_after(over)
        raise WebError(
            429,
            "Too many requests",
            f"Too many requests from here in a short time. Please try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


def client_address(request: Request) -> str:
    """The client's address: a proxy's own unless uvicorn trusts its forwarded headers
    (`FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else ""


async def signin_limit(request: Request) -> None:
    """Opening and spending sign-in links, per client address (links are spent once and
    signed, so this only keeps a flood of them off the database)."""
    limits: ApiLimits = request.app.state.limits
    await within_limits(request, (limits.portal_signin_quota, client_address(request)))


async def checked_form(
    request: Request, viewer: Reader, csrf: Annotated[str, Form()] = ""
) -> Viewer:
    """Any signed-in viewer posting a form with the session's CSRF token, within the rate of
    writes per person and per client address."""
    if not csrf_ok(viewer, csrf):
        raise WebError(
            403, "Form expired", "This form is out of date. Reload the page and try again."
        )
    per_person, per_client = request.app.state.limits.portal_write_quotas
    await within_limits(
        request, (per_person, str(viewer.user_id)), (per_client, client_address(request))
    )
    return viewer


async def admin_form(viewer: Annotated[Viewer, Depends(checked_form)]) -> Viewer:
    """A write: admins only; members read."""
    if not viewer.is_admin:
        raise WebError(
            403,
            "Admins only",
            "Your role in this calendar is member: you can look at everything, but only an "
            "admin can change things. Ask an admin to give you the admin role with /role.",
        )
    return viewer


FormViewer = Annotated[Viewer, Depends(checked_form)]
Admin = Annotated[Viewer, Depends(admin_form)]
