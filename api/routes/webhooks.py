"""Webhooks: Luma's on a per-org secret path, and Telegram's for the bot's webhook mode.

Luma does not publish a signing scheme, so the unguessable path token is the only proof of
origin, and the payload is treated as a rumour: it names a guest, and the refresh workflow
re-reads that guest from Luma with the org's own key before the cache changes. Telegram
proves itself with the secret header `api.telegram` checks.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, status
from pydantic import ValidationError
from sqlalchemy import select

from api.deps import LUMA_ID_PATTERN, DepsDep, SessionDep
from api.errors import ApiError, not_found
from api.schemas import LumaWebhook, TelegramAccepted, WebhookAccepted
from api.telegram import SECRET_HEADER
from luma import LumaEvent, LumaGuest
from store.models import Organization

log = logging.getLogger("lumabot.api")
router = APIRouter(tags=["webhooks"])

GUEST_EVENTS = frozenset({"guest.registered", "guest.updated"})
WebhookToken = Annotated[str, Path(min_length=16, max_length=64)]


def _event_id(data: dict[str, Any]) -> str | None:
    event = data.get("event")
    if isinstance(event, dict):
        try:
            return LumaEvent.model_validate(event).id
        except ValidationError:
            pass
    found = data.get("event_id") or data.get("event_api_id")
    return found if isinstance(found, str) else None


def _guest_ref(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The guest's id and email, in whichever generation's spelling Luma sent."""
    try:
        guest = LumaGuest.model_validate(data)
    except ValidationError:
        email = data.get("email") or data.get("user_email")
        return None, email if isinstance(email, str) and email else None
    return guest.id, guest.email or None


def _is_luma_id(value: str | None) -> bool:
    return value is not None and re.fullmatch(LUMA_ID_PATTERN, value) is not None


def _is_email(value: str | None) -> bool:
    return value is not None and 3 <= len(value) <= 320 and "@" in value


@router.post(
    "/luma/webhook/{token}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a Luma webhook (the path token is the org's secret)",
)
async def luma_webhook(
    token: WebhookToken, payload: LumaWebhook, deps: DepsDep, session: SessionDep
) -> WebhookAccepted:
    org_id = await session.scalar(
        select(Organization.id).where(Organization.webhook_token == token)
    )
    if org_id is None:
        raise not_found("webhook")
    if payload.type not in GUEST_EVENTS:
        return WebhookAccepted(accepted=False)
    event_id = _event_id(payload.data)
    guest_id, email = _guest_ref(payload.data)
    guest_id = guest_id if _is_luma_id(guest_id) else None
    if (
        event_id is None
        or not _is_luma_id(event_id)
        or not (_is_luma_id(guest_id) or _is_email(email))
    ):
        raise ApiError(422, f"A {payload.type} webhook must name its event and guest.")
    handle = await deps.automations.refresh_guest(org_id, event_id, guest_id=guest_id, email=email)
    log.info("Webhook %s for org %s: refreshing one guest", payload.type, org_id)
    return WebhookAccepted(accepted=True, workflow_id=handle.id)


@router.post("/telegram/webhook", summary="Telegram updates for the bot (webhook mode)")
async def telegram_webhook(
    deps: DepsDep,
    update: Annotated[dict[str, Any], Body(description="a Telegram Update")],
    secret: Annotated[str | None, Header(alias=SECRET_HEADER, max_length=256)] = None,
) -> TelegramAccepted:
    hook = deps.telegram
    if hook is None:
        raise ApiError(
            404, "The bot's webhook mode is off here (start with `lumabot api --bot-webhook-url`)."
        )
    if not hook.accepts(secret):
        raise ApiError(401, f"Wrong or missing {SECRET_HEADER} header.")
    try:
        hook.feed(update)
    except ValidationError:
        raise ApiError(422, "The body is not a Telegram update.") from None
    return TelegramAccepted()
