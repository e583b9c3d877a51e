"""Linking chats to Luma calendars: link with a key, unlink, switch calendars, replace the key.

A Luma key is a secret: it is registered with the log redactor the moment it is read,
checked with Luma's get-self before anything is stored, stored encrypted (`store.crypto`),
and only its fingerprint (last four characters) is ever shown or audited. The bot's `/link`,
`/unlink` and `/use` and the portal's key page come here, so these steps exist once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from billing import Billing, LimitExceeded
from billing.limits import (
    check_new_calendar,
    check_new_chat,
    check_new_member,
    sync_interval_for,
)
from core.logs import secrets as log_secrets
from luma import BadRequestError, InvalidKeyError, LumaClient, LumaError, LumaPool, NotFoundError
from luma.ratelimit import budget_key
from services import audit, luma_webhooks
from services.automations import Automations
from services.caller import Caller, Conflict, Invalid, NotFound, PlanLimit, Refusal, Source
from services.plan_sync import enrichment_follows_plan
from store import orgs
from store.crypto import KeyBox, fingerprint
from store.models import Chat, Organization, Role, User

log = logging.getLogger(__name__)

KEY_HELP = "Luma → Settings → API"
KEY_CHECK_BUDGET = "key-check"
CALENDAR_ID_PREFIX = "cal-"  # Luma's ids name their kind; an org keyed otherwise is unconfirmed


class KeyRejected(Invalid):
    """Luma answered get-self with 401/403: the key is wrong or revoked."""

    code = "key_rejected"


class LumaUnavailable(Refusal):
    """Luma could not be asked about the key (outage, rate limit); nothing was stored."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "luma_unavailable"


@dataclass(frozen=True)
class Place:
    """Who links which chat: there is no org to act in yet, so no `Caller`."""

    user_id: int
    chat_id: int
    chat_kind: str
    chat_title: str
    source: Source = "bot"

    @property
    def private(self) -> bool:
        return self.chat_kind == "private"


@dataclass(frozen=True)
class Linked:
    """The outcome of a link: which calendar, the key's fingerprint, whether syncing began."""

    org_id: int
    name: str
    key_fingerprint: str
    syncing: bool
    webhook: str | None = None  # the org's webhook status (`services.luma_webhooks`)
    webhook_note: str = ""  # what to tell the person linking (once: Luma refused webhooks)


@dataclass(frozen=True)
class Unlinked:
    """The outcome of an unlink; `stopped` when no chat uses the calendar any more."""

    name: str
    stopped: bool


def read_key(raw: str) -> str:
    """The key as sent, registered with the redactor before anything can log it."""
    key = raw.strip()
    log_secrets.add(key)
    if len(key) < 8 or len(key) > 256 or any(char.isspace() for char in key):
        raise Invalid(f"That does not look like a Luma API key; copy it from {KEY_HELP}.")
    return key


@dataclass(frozen=True)
class KeyCalendar:
    """The Luma calendar a key opens: the tenant's identity (one org per calendar)."""

    id: str  # cal-…; on a Luma without /v1/calendars/get, the key owner's usr-… id
    name: str


async def identify_key(luma: LumaPool, key: str) -> KeyCalendar:
    """Which calendar the key belongs to (`/v1/calendars/get`), or a refusal; nothing is
    stored before this. One Luma user often runs several calendars, each with its own key, so
    the tenant is the calendar, never the user (get-self) the key belongs to."""
    # One budget for every key check, whatever the key: a key per budget row would let junk
    # sent to /link leave rate-budget rows behind forever (each pruned only by its own use).
    client = luma.client(key, budget_key=KEY_CHECK_BUDGET, interactive=True)
    try:
        try:
            calendar = await client.get_calendar()
        except (BadRequestError, NotFoundError):  # the legacy generation has no calendars/get
            owner = await client.get_self()
            log.warning("Luma has no calendars/get here: keying the calendar on its owner")
            return KeyCalendar(owner.id, owner.name or owner.email or "Luma calendar")
    except InvalidKeyError:
        raise KeyRejected("Luma rejected this key, so nothing was stored.") from None
    except LumaError as exc:
        raise LumaUnavailable(f"{escape(exc.user_message)} Nothing was stored.") from None
    return KeyCalendar(calendar.id, calendar.name or "Luma calendar")


async def _admit(session: AsyncSession, billing: Billing, place: Place, org: Organization) -> None:
    """The plan's calendars, chats and team members, checked before the link is kept."""
    try:
        await check_new_calendar(
            session, billing, user_id=place.user_id, calendar_id=org.luma_calendar_id
        )
        await check_new_chat(session, billing, org=org, chat_id=place.chat_id)
        await check_new_member(session, billing, org=org, user_id=place.user_id)
    except LimitExceeded as exc:
        raise PlanLimit(f"{exc} Nothing was stored.", limit=exc.limit) from None


async def link_calendar(
    place: Place,
    session: AsyncSession,
    *,
    luma: LumaPool,
    keybox: KeyBox,
    billing: Billing,
    automations: Automations,
    key: str,
    public_url: str | None = None,
) -> Linked:
    """Check the key with Luma, store it encrypted, link the chat (its linker becomes an
    admin), then start the calendar's schedules and first sync.

    Commits the session itself: the first sync runs in the worker and must see the org. A
    refusal comes before the commit, so the caller's rollback leaves nothing stored. Once
    linked, the calendar registers its webhook with Luma at `public_url` (the automations'
    `PUBLIC_URL` unless given); where Luma refuses, `webhook_note` says so, once."""
    key = read_key(key)
    calendar = await identify_key(luma, key)
    name = calendar.name
    chat = await session.get(Chat, place.chat_id)
    previous = chat.org_id if chat is not None else None
    org = await orgs.save_org(
        session, calendar_id=calendar.id, name=name, luma_key=key, keybox=keybox
    )
    await _admit(session, billing, place, org)
    await orgs.link_chat(
        session,
        chat_id=place.chat_id,
        org_id=org.id,
        kind=place.chat_kind,
        title=place.chat_title[:255],
        linked_by=place.user_id,
    )
    if place.private:
        user = await session.get(User, place.user_id)
        if user is not None:
            user.active_org_id = org.id
    linker = Caller(org.id, Role.ADMIN, place.source, place.user_id, place.chat_id)
    await audit.record(linker, session, "link", {"calendar": calendar.id, "key": fingerprint(key)})
    await session.commit()
    note = ""
    if org.webhook_status in (None, luma_webhooks.PENDING):
        registration = await luma_webhooks.register(
            session,
            org,
            org_client(luma, org, key),
            keybox=keybox,
            public_url=public_url or automations.defaults.public_url,
        )
        await session.commit()
        note = luma_webhooks.REFUSED_NOTE if registration.newly_refused else ""
    syncing = True
    try:
        if previous is not None and previous != org.id:
            await _release(session, automations, previous, place.chat_id, luma=luma, keybox=keybox)
        await automations.on_org_linked(org.id, sync_interval_for(billing, org))
        await enrichment_follows_plan(session, billing, automations, org=org)  # a relink
    except RPCError as exc:
        log.warning("could not start the first sync of org %s: %s", org.id, exc)
        syncing = False
    return Linked(org.id, name, fingerprint(key), syncing, org.webhook_status, note)


def org_client(luma: LumaPool, org: Organization, key: str) -> LumaClient:
    """A client for a person waiting on `org`'s calendar, spending the calendar's budget."""
    spends = budget_key(org.luma_calendar_id, key, org.key_kind)
    return luma.client(key, budget_key=spends, interactive=True)


async def drop_webhook(
    session: AsyncSession, org: Organization, *, luma: LumaPool, keybox: KeyBox
) -> None:
    """Delete the org's Luma webhook (its calendar has no chat left, or its key changes)."""
    if org.luma_webhook_id is None and org.webhook_status is None:
        return
    key = keybox.decrypt(org.key_ciphertext)
    await luma_webhooks.unregister(session, org, org_client(luma, org, key))


async def _release(
    session: AsyncSession,
    automations: Automations,
    org_id: int,
    chat_id: int,
    *,
    luma: LumaPool | None = None,
    keybox: KeyBox | None = None,
) -> bool:
    """Stop an org's schedules once no chat is linked to it, and delete its Luma webhook
    (given the pool and keybox to do it with); True when it was the last one."""
    if await orgs.org_chats(session, org_id=org_id):
        return False
    await automations.on_org_unlinked(org_id, [chat_id])
    org = await session.get(Organization, org_id)
    if org is not None and luma is not None and keybox is not None:
        await drop_webhook(session, org, luma=luma, keybox=keybox)
        await session.commit()
    return True


async def unlink_chat(
    caller: Caller,
    session: AsyncSession,
    automations: Automations,
    *,
    private: bool,
    luma: LumaPool | None = None,
    keybox: KeyBox | None = None,
) -> Unlinked:
    """The caller's chat lets go of the org (a DM also stops using it); the chat's digest
    stops, and the org's schedules and Luma webhook when no chat is left. Commits before
    touching Temporal."""
    caller.require_admin()
    if caller.chat_id is None:
        raise Invalid("Unlinking needs the chat to unlink.")
    org = await session.get(Organization, caller.org_id)
    if org is None:
        raise NotFound("There is no such calendar.")
    chat = await session.get(Chat, caller.chat_id)
    if chat is not None and chat.org_id == org.id:  # linked itself, not just chosen with /use
        await orgs.unlink_chat(session, chat_id=caller.chat_id)
    if private and caller.user_id is not None:
        user = await session.get(User, caller.user_id)
        if user is not None and user.active_org_id == org.id:
            user.active_org_id = None
    await audit.record(caller, session, "unlink", {"calendar": org.luma_calendar_id})
    name = org.name
    await session.commit()
    await automations.clear_digest(caller.chat_id)
    stopped = await _release(
        session, automations, caller.org_id, caller.chat_id, luma=luma, keybox=keybox
    )
    return Unlinked(name, stopped)


async def unlink_everywhere(
    caller: Caller,
    session: AsyncSession,
    automations: Automations,
    *,
    luma: LumaPool | None = None,
    keybox: KeyBox | None = None,
) -> int:
    """Detach every chat from the calendar, stop its schedules and delete its Luma webhook
    (the key stays encrypted); how many chats were linked. The schedules stop inside the
    caller's transaction."""
    caller.require_admin()
    chats = await orgs.org_chats(session, org_id=caller.org_id)
    for chat in chats:
        await orgs.unlink_chat(session, chat_id=chat.id)
    await automations.on_org_unlinked(caller.org_id, [chat.id for chat in chats])
    org = await session.get(Organization, caller.org_id)
    if org is not None and luma is not None and keybox is not None:
        await drop_webhook(session, org, luma=luma, keybox=keybox)
    await audit.record(caller, session, "unlink_all", {"chats": len(chats)})
    return len(chats)


async def replace_key(
    caller: Caller,
    session: AsyncSession,
    *,
    luma: LumaPool,
    keybox: KeyBox,
    key: str,
    public_url: str | None = None,
) -> str:
    """A new key for the same calendar (rotated in Luma), verified with get-self; returns its
    fingerprint. A key of another calendar is refused: that is a link, not a replacement.

    The calendar's webhook is deleted with the new key and registered again at `public_url`
    (without one, the next scheduled sync registers it)."""
    caller.require_admin()
    key = read_key(key)
    org = await session.get(Organization, caller.org_id)
    if org is None:
        raise NotFound("There is no such calendar.")
    if not org.luma_calendar_id.startswith(CALENDAR_ID_PREFIX):
        raise Conflict(
            "Luma has not yet confirmed which calendar this is (it was linked before "
            "calendars were told apart); send /sync, then replace the key. Nothing was changed."
        )
    calendar = await identify_key(luma, key)
    if calendar.id != org.luma_calendar_id:
        raise Conflict(
            f"This key belongs to another Luma calendar ({escape(calendar.name[:80])}); nothing "
            "was changed. Link that calendar from the bot with /link: it becomes a calendar of "
            "its own."
        )
    await orgs.save_org(
        session,
        calendar_id=calendar.id,
        name=calendar.name or org.name,
        luma_key=key,
        keybox=keybox,
        key_kind=org.key_kind,
    )
    if org.webhook_status in (luma_webhooks.ACTIVE, luma_webhooks.PENDING):
        client = org_client(luma, org, key)
        await luma_webhooks.unregister(session, org, client)
        org.webhook_status = luma_webhooks.PENDING
        if public_url:
            await luma_webhooks.register(session, org, client, keybox=keybox, public_url=public_url)
    await audit.record(caller, session, "key_replace", {"key": fingerprint(key)})
    return fingerprint(key)


async def calendars_of(session: AsyncSession, *, user_id: int) -> Sequence[Organization]:
    """The calendars a person is a member of, by name."""
    return await orgs.user_orgs(session, user_id=user_id)


def match_calendar(calendars: Sequence[Organization], wanted: str) -> Organization:
    """The one calendar whose name contains `wanted` (case-insensitive)."""
    words = " ".join(wanted.split()).casefold()
    chosen = [org for org in calendars if words and words in org.name.casefold()]
    if len(chosen) != 1:
        raise Invalid(
            f"None or several of your calendars match “{escape(words[:60])}”; "
            "send /use to pick one."
        )
    return chosen[0]


async def use_calendar(session: AsyncSession, *, user_id: int, org_id: int) -> Organization:
    """A person's private chat now works with `org_id`, which they must be a member of."""
    org = await session.get(Organization, org_id)
    role = await orgs.get_role(session, org_id=org_id, user_id=user_id)
    if org is None or role is None:
        raise NotFound("You are not a member of that calendar.")
    user = await session.get(User, user_id)
    if user is not None:
        user.active_org_id = org_id
    return org
