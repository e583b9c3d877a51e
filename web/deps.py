"""What the portal's pages declare: the signed-in viewer, admin rights, CSRF, and clients.

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

from api.deps import ApiDeps, get_deps
from api.routes.stripe import BillingDep
from core.settings import Environment, Settings
from luma import LumaPool
from store.crypto import KeyBox
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


def get_web(request: Request) -> WebDeps:
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


async def checked_form(viewer: Reader, csrf: Annotated[str, Form()] = "") -> Viewer:
    """Any signed-in viewer posting a form with the session's CSRF token."""
    if not csrf_ok(viewer, csrf):
        raise WebError(
            403, "Form expired", "This form is out of date. Reload the page and try again."
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
