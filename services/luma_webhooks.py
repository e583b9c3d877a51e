"""The webhook each linked calendar registers with Luma, so changes arrive within seconds.

On link, `register` asks Luma (`POST /v2/webhooks/create`) to send the guest and event types
to `{PUBLIC_URL}/luma/webhook/{org.webhook_token}`, and keeps the webhook's id and its signing
secret (encrypted like the key). Luma creates webhooks only for calendars with Luma Plus: a
refusal is recorded once (`webhook_status = "refused"`), the link says so, and the scheduled
sync carries on alone. `unregister` deletes the webhook when the calendar's last chat goes or
its key is replaced (the new key registers a new one). `repair`, run by every scheduled sync,
re-creates it when `GET /v1/webhooks/list` shows it missing or paused.

Statuses: None (never tried: orgs linked before this, or outside `/link`), "pending" (to be
registered: a link whose attempt failed for a passing reason), "active", "refused".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from luma import BadRequestError, InvalidKeyError, LumaClient, LumaError, NotFoundError
from luma.signing import TOLERANCE_SECONDS
from store.crypto import KeyBox
from store.models import LumaWebhookDelivery, Organization, utcnow

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "guest.registered",
    "guest.updated",
    "ticket.registered",
    "event.updated",
    "event.canceled",
)
ACTIVE = "active"
PENDING = "pending"
REFUSED = "refused"
UNCHECKED = "unchecked"  # what `repair` says when Luma would not list webhooks; never stored
REFUSED_NOTE = (
    "Luma did not let me register a webhook for this calendar (webhooks need Luma Plus), so "
    "changes reach me with the scheduled sync instead of at once."
)


def webhook_url(public_url: str, org: Organization) -> str:
    """Where Luma delivers this org's webhooks: the unguessable path is a second factor."""
    return f"{public_url.rstrip('/')}/luma/webhook/{org.webhook_token}"


@dataclass(frozen=True)
class Registration:
    """What `register` did: the org's webhook status afterwards, and whether Luma refused
    just now (the one time to tell the person linking)."""

    status: str
    newly_refused: bool = False


async def register(
    session: AsyncSession,
    org: Organization,
    client: LumaClient,
    *,
    keybox: KeyBox,
    public_url: str,
) -> Registration:
    """Create the org's webhook with Luma and store its id and secret (the caller commits).

    A 403 or 400 is Luma refusing webhooks for this calendar: recorded once, never retried by
    `repair`. Any other failure (Luma down, rate limited) leaves the org "pending" for the
    next scheduled sync to try again."""
    already_refused = org.webhook_status == REFUSED
    try:
        hook = await client.create_webhook(webhook_url(public_url, org), EVENT_TYPES)
    except (InvalidKeyError, BadRequestError) as exc:
        if exc.status == 401:  # the key itself failed: not an answer about webhooks
            log.warning("org %s: Luma rejected the key registering a webhook", org.id)
            _forget(org, PENDING)
            return Registration(PENDING)
        log.info("org %s: Luma refused a webhook (%s); polling only", org.id, exc)
        _forget(org, REFUSED)
        return Registration(REFUSED, newly_refused=not already_refused)
    except LumaError as exc:
        log.warning("org %s: could not register a webhook yet: %s", org.id, exc)
        _forget(org, PENDING)
        return Registration(PENDING)
    if not hook.secret:
        log.warning("org %s: Luma made webhook %s without a secret", org.id, hook.id)
    org.luma_webhook_id = hook.id
    org.webhook_secret_ciphertext = keybox.encrypt(hook.secret) if hook.secret else None
    org.webhook_status = ACTIVE
    await session.flush()
    return Registration(ACTIVE)


async def unregister(session: AsyncSession, org: Organization, client: LumaClient) -> None:
    """Delete the org's webhook in Luma (gone already is fine) and forget it; a failure is
    logged, never raised: unlinking must not depend on Luma answering."""
    if org.luma_webhook_id is not None:
        try:
            await client.delete_webhook(org.luma_webhook_id)
        except NotFoundError:
            pass
        except LumaError as exc:
            log.warning("org %s: could not delete webhook %s: %s", org.id, org.luma_webhook_id, exc)
    _forget(org, None)
    await session.flush()


async def repair(
    session: AsyncSession,
    org: Organization,
    client: LumaClient,
    *,
    keybox: KeyBox,
    public_url: str,
) -> str | None:
    """Make sure the org's webhook exists and is active; returns the status afterwards, and
    `UNCHECKED` when Luma could not be asked (the stored status stays as it was).

    Only orgs that registered one (or are due to) are checked, one list request each. A
    missing or paused webhook is replaced by a new one (a paused one is deleted first: Luma
    pauses an endpoint that kept failing, and a new one starts clean); twins of our URL that
    a retried create may have left are deleted."""
    if org.webhook_status not in (ACTIVE, PENDING):
        return org.webhook_status
    if org.webhook_status == PENDING:
        return (await register(session, org, client, keybox=keybox, public_url=public_url)).status
    try:
        hooks = await client.list_webhooks()
    except LumaError as exc:
        log.warning("org %s: could not list webhooks: %s", org.id, exc)
        return UNCHECKED
    ours = next((hook for hook in hooks if hook.id == org.luma_webhook_id), None)
    url = ours.url if ours is not None else webhook_url(public_url, org)
    for hook in hooks:
        if hook.url == url and hook is not ours:
            await _delete_quietly(org, client, hook.id)
    if ours is not None and ours.active:
        return ACTIVE
    log.info(
        "org %s: webhook %s is %s; registering again",
        org.id,
        org.luma_webhook_id,
        "paused" if ours is not None else "missing",
    )
    if ours is not None:
        await _delete_quietly(org, client, ours.id)
    base = url.removesuffix(f"/luma/webhook/{org.webhook_token}")
    return (await register(session, org, client, keybox=keybox, public_url=base)).status


async def _delete_quietly(org: Organization, client: LumaClient, webhook_id: str) -> None:
    try:
        await client.delete_webhook(webhook_id)
    except LumaError as exc:
        log.warning("org %s: could not delete webhook %s: %s", org.id, webhook_id, exc)


def _forget(org: Organization, status: str | None) -> None:
    org.luma_webhook_id = None
    org.webhook_secret_ciphertext = None
    org.webhook_status = status


def webhook_secret(org: Organization, keybox: KeyBox) -> str | None:
    """The org's webhook signing secret, decrypted; None when it has none."""
    if org.webhook_secret_ciphertext is None:
        return None
    return keybox.decrypt(org.webhook_secret_ciphertext)


async def first_delivery(session: AsyncSession, *, org_id: int, delivery_id: str) -> bool:
    """Record a delivery's `webhook-id`; False when it was recorded already (a replay). Ids
    are kept twice the signature tolerance: a replay later than that fails on its stale
    timestamp instead. Runs inside the caller's transaction, so a delivery whose work fails
    to start is not remembered and Luma's retry of it is accepted."""
    cutoff = utcnow() - timedelta(seconds=2 * TOLERANCE_SECONDS)
    await session.execute(
        delete(LumaWebhookDelivery).where(
            LumaWebhookDelivery.org_id == org_id, LumaWebhookDelivery.received_at < cutoff
        )
    )
    if await session.get(LumaWebhookDelivery, (org_id, delivery_id)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(LumaWebhookDelivery(org_id=org_id, delivery_id=delivery_id))
    except IntegrityError:  # the same delivery, arriving twice at once
        return False
    return True
