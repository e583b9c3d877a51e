"""Webhooks: Luma's on a per-org secret path, and Telegram's for the bot's webhook mode.

A Luma delivery proves itself twice: the unguessable path token names the org, and when it
carries `webhook-signature` (the webhooks the bot registers are signed, `luma.signing`) the
signature must match the org's webhook secret within five minutes; its `webhook-id` is
accepted once. A bad, stale or replayed delivery is refused (4xx) and changes nothing. The
payload is still treated as a rumour: it names a guest, and the refresh workflow re-reads that
guest from Luma with the org's own key before the cache changes. One sign-up arrives as
`guest.registered` + `guest.updated` + `ticket.registered`: the refresh starts after a short
settle and is keyed on the guest, so the three make one refresh. A `guest.registered` also
goes to the event's approval policy when it is on (`services.policies.registration_arrived`),
which decides from its own read of Luma. Telegram proves itself with the secret header
`api.telegram` checks.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request, status
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import LUMA_ID_PATTERN, DepsDep, SessionDep
from api.errors import ApiError, not_found
from api.schemas import LumaWebhook, TelegramAccepted, WebhookAccepted
from api.telegram import SECRET_HEADER
from luma import InvalidEmailError, LumaEvent, LumaGuest, normalize_email
from luma.signing import ID_HEADER, SIGNATURE_HEADER, BadSignature, verify
from services import luma_webhooks, policies
from store.models import Organization
from web.deps import WebDep

log = logging.getLogger("lumabot.api")
router = APIRouter(tags=["webhooks"])

GUEST_EVENTS = frozenset({"guest.registered", "guest.updated", "ticket.registered"})
# An event changed (details, or canceled): the calendar's events are re-read, joining the
# sync already running if there is one (events are listed, never read one by one).
EVENT_CHANGES = frozenset({"event.updated", "event.canceled"})
# How long a guest's refresh waits for the rest of its sign-up's deliveries to arrive.
SETTLE = timedelta(seconds=1)
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
    if value is None or len(value) > 320:
        return False
    try:
        normalize_email(value)
    except InvalidEmailError:
        return False
    return True


async def _first(session: AsyncSession, org_id: int, delivery_id: str | None) -> None:
    """Refuse (409) a signed delivery that was accepted already."""
    if delivery_id is not None and not await luma_webhooks.first_delivery(
        session, org_id=org_id, delivery_id=delivery_id
    ):
        raise ApiError(409, "This delivery was accepted already.")


@router.post(
    "/luma/webhook/{token}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a Luma webhook (the path token is the org's secret)",
)
async def luma_webhook(
    token: WebhookToken,
    payload: LumaWebhook,
    request: Request,
    deps: DepsDep,
    web: WebDep,
    session: SessionDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=1024)] = None,
    delivery_id: Annotated[str | None, Header(alias=ID_HEADER, max_length=255)] = None,
) -> WebhookAccepted:
    org = await session.scalar(select(Organization).where(Organization.webhook_token == token))
    if org is None:
        raise not_found("webhook")
    org_id = org.id
    # Only signed deliveries are de-duplicated (on `webhook-id`, which Luma keeps when it
    # retries, else on the signature): an unsigned request, which anyone holding the path
    # token can make, must not burn a real delivery's id before Luma sends it. An unsigned
    # delivery (a Luma that does not sign) only re-reads the guest from Luma.
    replay_key = None
    if signature is not None:
        replay_key = delivery_id or "sig:" + hashlib.sha256(signature.encode()).hexdigest()[:40]
        secret = luma_webhooks.webhook_secret(org, web.keybox)
        if secret is None:
            raise ApiError(401, "This calendar has no webhook secret to check the signature.")
        try:
            verify(secret, signature, await request.body(), now=time.time())
        except BadSignature as exc:
            log.warning("Webhook for org %s refused: %s", org_id, exc)
            raise ApiError(401, f"Bad {SIGNATURE_HEADER}: {exc}.") from None
    if payload.type in EVENT_CHANGES:
        changed = payload.data.get("id")
        if not isinstance(changed, str) or not _is_luma_id(changed):
            raise ApiError(422, f"An {payload.type} webhook must name its event.")
        async with deps.sessions.begin() as tx:
            await _first(tx, org_id, replay_key)
            handle = await deps.automations.sync_now(org_id)
        log.info("Webhook %s for org %s: syncing the calendar", payload.type, org_id)
        return WebhookAccepted(accepted=True, workflow_id=handle.id)
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
    async with deps.sessions.begin() as tx:
        await _first(tx, org_id, replay_key)
        handle = await deps.automations.refresh_guest(
            org_id, event_id, guest_id=guest_id, email=email, settle=SETTLE
        )
        if payload.type == "guest.registered" and guest_id is not None:
            await policies.registration_arrived(
                tx, deps.automations, org_id=org_id, event_id=event_id, guest_id=guest_id
            )
        elif payload.type == "guest.updated":  # a decline or a cancellation frees a seat
            await policies.seat_may_have_freed(
                tx, deps.automations, org_id=org_id, event_id=event_id
            )
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
