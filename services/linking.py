"""Linking chats to Luma calendars: link with a key, unlink, switch calendars, replace the key.

A Luma key is a secret: it is registered with the log redactor the moment it is read,
checked with Luma before anything is stored, stored encrypted (`store.crypto`), and only its
fingerprint (last four characters) is ever shown or audited. The bot's `/link`, `/unlink` and
`/use` and the portal's key page come here, so these steps exist once.

A calendar key opens one calendar, which becomes the tenant. An organization key opens all
the calendars of a Luma organization: linking one offers them (`CalendarChoice`), the key
waiting encrypted in `store.link_offers`, and the calendar picked becomes a tenant of its own
(`link_offered`), confined to that calendar's events (`LumaPool.tenant_client`) and spending
the one budget Luma counts the organization's key in.
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
from luma.ratelimit import CALENDAR_KEY, ORGANIZATION_KEY
from services import audit, luma_webhooks
from services.automations import Automations
from services.caller import Caller, Conflict, Invalid, NotFound, PlanLimit, Refusal, Source
from services.plan_sync import enrichment_follows_plan
from store import link_offers, orgs
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
    note: str = ""  # what else to tell the person linking (Luma refused webhooks, once; ...)


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


@dataclass(frozen=True)
class KeyAccess:
    """What a key opens: one calendar (a calendar key), or the calendars of a Luma
    organization (an organization key, `luma.ratelimit.ORGANIZATION_KEY`)."""

    kind: str
    calendars: tuple[KeyCalendar, ...]

    def calendar(self, calendar_id: str) -> KeyCalendar | None:
        return next((c for c in self.calendars if c.id == calendar_id), None)


@dataclass(frozen=True)
class CalendarChoice:
    """An organization key's calendars, offered for a press (`link_offered`); nothing is
    linked yet, and the key waits encrypted until the offer is taken or expires."""

    offer_id: str
    calendars: tuple[KeyCalendar, ...]
    key_fingerprint: str


async def identify_key(luma: LumaPool, key: str) -> KeyAccess:
    """What the key opens, or a refusal; nothing is stored before this.

    A calendar key names its calendar (`/v1/calendars/get`). One Luma user often runs several
    calendars, each with its own key, so the tenant is the calendar, never the user
    (get-self) the key belongs to. An organization key names no one calendar, so Luma
    refuses it that route; the organization's calendars (`/v1/organizations/calendars/list`)
    are what it opens. A Luma without either (the legacy generation) keys the calendar on its
    owner."""
    # One budget for every key check, whatever the key: a key per budget row would let junk
    # sent to /link leave rate-budget rows behind forever (each pruned only by its own use).
    client = luma.client(key, budget_key=KEY_CHECK_BUDGET, interactive=True)
    try:
        try:
            calendar = await client.get_calendar()
        except InvalidKeyError as exc:
            if exc.status == 401:  # unknown or revoked: no other route will take it
                raise
            return await _organization_calendars(client, refused=exc)
        except (BadRequestError, NotFoundError) as exc:
            return await _organization_calendars(client, refused=exc)
    except InvalidKeyError:
        raise KeyRejected("Luma rejected this key, so nothing was stored.") from None
    except LumaError as exc:
        raise LumaUnavailable(f"{escape(exc.user_message)} Nothing was stored.") from None
    return KeyAccess(CALENDAR_KEY, (KeyCalendar(calendar.id, calendar.name or "Luma calendar"),))


async def _organization_calendars(client: LumaClient, *, refused: LumaError) -> KeyAccess:
    """The calendars of a key `/v1/calendars/get` refused: an organization key's, or (where
    Luma has neither route) the legacy calendar keyed on its owner."""
    try:
        calendars = await client.list_org_calendars()
    except (InvalidKeyError, BadRequestError, NotFoundError):
        if isinstance(refused, InvalidKeyError):  # a key neither kind of route accepts
            raise refused from None
        owner = await client.get_self()
        log.warning("Luma has no calendars/get here: keying the calendar on its owner")
        name = owner.name or owner.email or "Luma calendar"
        return KeyAccess(CALENDAR_KEY, (KeyCalendar(owner.id, name),))
    if not calendars:
        raise Invalid("This organization key opens no calendar yet, so nothing was stored.")
    return KeyAccess(
        ORGANIZATION_KEY,
        tuple(KeyCalendar(c.id, c.name or "Luma calendar") for c in calendars),
    )


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
) -> Linked | CalendarChoice:
    """Check the key with Luma, store it encrypted, link the chat (its linker becomes an
    admin), then start the calendar's schedules and first sync.

    Commits the session itself: the first sync runs in the worker and must see the org. A
    refusal comes before the commit, so the caller's rollback leaves nothing stored. Once
    linked, the calendar registers its webhook with Luma at `public_url` (the automations'
    `PUBLIC_URL` unless given); where Luma refuses, `note` says so, once.

    An organization key links nothing yet: its calendars come back as a `CalendarChoice`
    for the person to pick one (`link_offered`)."""
    key = read_key(key)
    access = await identify_key(luma, key)
    if access.kind == ORGANIZATION_KEY:
        offer_id = await link_offers.offer(
            session,
            chat_id=place.chat_id,
            user_id=place.user_id,
            luma_key=key,
            calendars=[{"id": c.id, "name": c.name} for c in access.calendars],
            keybox=keybox,
        )
        await session.commit()
        return CalendarChoice(offer_id, access.calendars, fingerprint(key))
    return await _link(
        place,
        session,
        luma=luma,
        keybox=keybox,
        billing=billing,
        automations=automations,
        key=key,
        calendar=access.calendars[0],
        key_kind=CALENDAR_KEY,
        public_url=public_url,
    )


OFFER_GONE = "This choice has expired or was already made; send /link with the key again."


async def link_offered(
    place: Place,
    session: AsyncSession,
    *,
    luma: LumaPool,
    keybox: KeyBox,
    billing: Billing,
    automations: Automations,
    offer_id: str,
    index: int,
    public_url: str | None = None,
) -> Linked:
    """Link the chat to calendar number `index` of an organization key's `CalendarChoice`:
    that calendar becomes a tenant of its own (or the existing one takes the organization's
    key), as `link_calendar` links a calendar key. Only the person the offer was made to, in
    the same chat, may take it, once."""
    offer = await link_offers.take(
        session, offer_id=offer_id, chat_id=place.chat_id, user_id=place.user_id
    )
    if offer is None or not 0 <= index < len(offer.calendars):
        raise NotFound(OFFER_GONE)
    chosen = offer.calendars[index]
    key = keybox.decrypt(offer.key_ciphertext)
    log_secrets.add(key)
    return await _link(
        place,
        session,
        luma=luma,
        keybox=keybox,
        billing=billing,
        automations=automations,
        key=key,
        calendar=KeyCalendar(chosen["id"], chosen["name"]),
        key_kind=ORGANIZATION_KEY,
        public_url=public_url,
    )


async def _link(
    place: Place,
    session: AsyncSession,
    *,
    luma: LumaPool,
    keybox: KeyBox,
    billing: Billing,
    automations: Automations,
    key: str,
    calendar: KeyCalendar,
    key_kind: str,
    public_url: str | None,
) -> Linked:
    """Store a checked key for `calendar` and link the chat to it (`link_calendar`)."""
    name = calendar.name
    chat = await session.get(Chat, place.chat_id)
    previous = chat.org_id if chat is not None else None
    existing = await orgs.org_of_calendar(session, calendar_id=calendar.id)
    # A calendar already linked with its own key keeps it (its webhook and its own budget go
    # with it): an organization key opens the calendar to this chat and person, and replaces
    # nothing. Only an admin's explicit key replacement (`replace_key`) changes a stored key.
    kept = (
        existing is not None
        and key_kind == ORGANIZATION_KEY
        and existing.key_kind != ORGANIZATION_KEY
    )
    if kept and existing is not None:
        org, key, key_kind = existing, keybox.decrypt(existing.key_ciphertext), existing.key_kind
    else:
        org = await orgs.save_org(
            session,
            calendar_id=calendar.id,
            name=name,
            luma_key=key,
            keybox=keybox,
            key_kind=key_kind,
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
    details: dict[str, object] = {
        "calendar": calendar.id,
        "key": fingerprint(key),
        "key_kind": key_kind,
    }
    if kept:
        details["kept_own_key"] = True
    await audit.record(linker, session, "link", details)
    await session.commit()
    note = KEPT_OWN_KEY if kept else ""
    # An organization key cannot manage a calendar's webhooks (those routes name no
    # calendar): its tenants rely on the scheduled sync.
    if key_kind == CALENDAR_KEY and org.webhook_status in (None, luma_webhooks.PENDING):
        registration = await luma_webhooks.register(
            session,
            org,
            org_client(luma, org, key),
            keybox=keybox,
            public_url=public_url or automations.defaults.public_url,
        )
        await session.commit()
        note = luma_webhooks.REFUSED_NOTE if registration.newly_refused else note
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


KEPT_OWN_KEY = (
    "This calendar was already linked with its own key, which it keeps (with its webhook); "
    "the organization key was not stored."
)


def org_client(luma: LumaPool, org: Organization, key: str) -> LumaClient:
    """A client for a person waiting on `org`'s calendar, spending the budget its key is
    counted in, and confined to the calendar if the key is an organization's."""
    return luma.tenant_client(
        key, calendar_id=org.luma_calendar_id, key_kind=org.key_kind, interactive=True
    )


async def _before_key_kind_changes(
    session: AsyncSession, org: Organization, key_kind: str, *, luma: LumaPool, keybox: KeyBox
) -> None:
    """A calendar moving from its own key to its organization's loses the webhook its own key
    registered (deleted with that key, which still can): the organization key could never
    list, repair or delete it."""
    if key_kind == ORGANIZATION_KEY and org.key_kind != ORGANIZATION_KEY:
        await drop_webhook(session, org, luma=luma, keybox=keybox)


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
    """A new key for the same calendar (rotated in Luma), checked with Luma first; returns
    its fingerprint. A key of another calendar is refused: that is a link, not a replacement.
    An organization key is taken when its organization has this calendar, and refused
    otherwise; the calendar's own key may replace an organization key too.

    The calendar's webhook is deleted with the new key and registered again at `public_url`
    (without one, the next scheduled sync registers it); moving to an organization key, it is
    deleted with the old key and not registered again (`_before_key_kind_changes`), and moving
    back to the calendar's own key registers one."""
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
    access = await identify_key(luma, key)
    calendar = access.calendar(org.luma_calendar_id)
    if calendar is None and access.kind == ORGANIZATION_KEY:
        raise Conflict(
            f"This organization key does not open {escape(org.name[:80])}: its organization's "
            f"calendars are {_names(access.calendars)}. Nothing was changed. Use a key of "
            "this calendar, or of the organization it belongs to."
        )
    if calendar is None:
        other = access.calendars[0].name
        raise Conflict(
            f"This key belongs to another Luma calendar ({escape(other[:80])}); nothing "
            "was changed. Link that calendar from the bot with /link: it becomes a calendar of "
            "its own."
        )
    await _before_key_kind_changes(session, org, access.kind, luma=luma, keybox=keybox)
    back_to_own_key = access.kind == CALENDAR_KEY and org.key_kind == ORGANIZATION_KEY
    if back_to_own_key and org.webhook_status is None:  # never tried under the organization key
        org.webhook_status = luma_webhooks.PENDING
    await orgs.save_org(
        session,
        calendar_id=calendar.id,
        name=calendar.name or org.name,
        luma_key=key,
        keybox=keybox,
        key_kind=access.kind,
    )
    if access.kind == CALENDAR_KEY and org.webhook_status in (
        luma_webhooks.ACTIVE,
        luma_webhooks.PENDING,
    ):
        client = org_client(luma, org, key)
        await luma_webhooks.unregister(session, org, client)
        org.webhook_status = luma_webhooks.PENDING
        if public_url:
            await luma_webhooks.register(session, org, client, keybox=keybox, public_url=public_url)
    await audit.record(caller, session, "key_replace", {"key": fingerprint(key)})
    return fingerprint(key)


def _names(calendars: Sequence[KeyCalendar], most: int = 5) -> str:
    shown = ", ".join(escape(calendar.name[:60]) for calendar in calendars[:most])
    return shown + (f" and {len(calendars) - most} more" if len(calendars) > most else "")


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
