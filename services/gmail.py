"""Send from Gmail: an org connects its own Gmail account, and follow-ups go out from it.

Admins only. Connecting is Google's authorization-code flow (`mailer.gmail`): `begin_connect`
records the press (OAuth `state`, bound to the portal session, with its PKCE verifier) and
returns Google's consent URL; `finish_connect` takes that state once, from the same session
and person, trades the code for a refresh token and stores it encrypted. Disconnecting
forgets the token and withdraws it at Google. While an account is connected, the org's
follow-ups go through it (`MailSetup.mailer_for`), otherwise through MAIL_BACKEND.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mailer import gmail
from mailer.gmail import GoogleClient, GoogleRefused, Pkce
from services import audit
from services.caller import Caller, Conflict, Forbidden
from store import gmail_senders
from store.crypto import KeyBox
from store.models import utcnow

log = logging.getLogger(__name__)
CALLBACK_PATH = "/web/gmail/callback"
STATE_LIFETIME = timedelta(minutes=10)
NOT_SET_UP = (
    "Sending from Gmail is not set up on this install: whoever runs it sets GOOGLE_CLIENT_ID "
    "and GOOGLE_CLIENT_SECRET (README, “Send from Gmail”)."
)
STALE = (
    "This Gmail connection was not started from this sign-in, was already used, or is more "
    "than 10 minutes old: nothing was connected. Press Connect again."
)


@dataclass(frozen=True)
class GmailStatus:
    """What the portal shows: whether Gmail can be connected here, and the account if any."""

    available: bool
    address: str | None = None
    connected_by: int | None = None
    connected_at: datetime | None = None


def redirect_uri(public_url: str) -> str:
    return public_url.rstrip("/") + CALLBACK_PATH


def _require(client: GoogleClient | None) -> GoogleClient:
    if client is None:
        raise Conflict(NOT_SET_UP)
    return client


async def status(caller: Caller, session: AsyncSession, *, available: bool) -> GmailStatus:
    account = await gmail_senders.get(session, org_id=caller.org_id)
    if account is None:
        return GmailStatus(available)
    return GmailStatus(available, account.address, account.connected_by, account.connected_at)


async def connected(session: AsyncSession, *, org_id: int) -> bool:
    """Whether the org's follow-ups go out from its own Gmail."""
    return await gmail_senders.get(session, org_id=org_id) is not None


async def begin_connect(
    caller: Caller,
    session: AsyncSession,
    *,
    client: GoogleClient | None,
    keybox: KeyBox,
    browser_session: str,
    public_url: str,
) -> str:
    """Record a Connect press for this browser session and return Google's consent URL."""
    caller.require_admin()
    client = _require(client)
    assert caller.user_id is not None  # a portal caller is a person
    state, pkce = secrets.token_urlsafe(32), Pkce.new()
    await gmail_senders.add_state(
        session,
        state=state,
        session_hash=browser_session,
        org_id=caller.org_id,
        user_id=caller.user_id,
        verifier=pkce.verifier,
        keybox=keybox,
        expires_at=utcnow() + STATE_LIFETIME,
    )
    return gmail.authorization_url(
        client, state=state, redirect_uri=redirect_uri(public_url), pkce=pkce
    )


async def finish_connect(
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: GoogleClient | None,
    keybox: KeyBox,
    browser_session: str,
    public_url: str,
    state: str,
    code: str,
    error: str = "",
) -> str:
    """Google's callback: spend the state (committed first, so it is spent whatever follows),
    trade the code, keep the refresh token encrypted. Returns the connected address."""
    caller.require_admin()
    client = _require(client)
    verifier = None
    if state:
        async with sessions.begin() as session:
            verifier = await gmail_senders.take_state(
                session,
                state=state,
                session_hash=browser_session,
                org_id=caller.org_id,
                user_id=caller.user_id or 0,
                keybox=keybox,
            )
    if verifier is None:
        raise Forbidden(STALE)
    if error or not code:
        raise Conflict(f"Google did not connect the account ({escape(error or 'no code')}).")
    try:
        async with client.http() as http:
            grant = await gmail.exchange_code(
                http, client, code=code, redirect_uri=redirect_uri(public_url), pkce=Pkce(verifier)
            )
    except GoogleRefused as exc:
        raise Conflict(escape(str(exc))) from None
    async with sessions.begin() as session:
        await gmail_senders.save(
            session,
            org_id=caller.org_id,
            address=grant.address,
            token=grant.refresh_token,
            keybox=keybox,
            by=caller.user_id,
        )
        await audit.record(caller, session, "gmail_connect", {"address": grant.address})
    return grant.address


async def disconnect(
    caller: Caller, session: AsyncSession, *, client: GoogleClient | None, keybox: KeyBox
) -> str | None:
    """Forget the org's account and withdraw the token at Google; the address, or None when
    nothing was connected. Follow-ups go through MAIL_BACKEND again."""
    caller.require_admin()
    account = await gmail_senders.remove(session, org_id=caller.org_id)
    if account is None:
        return None
    if client is not None:
        async with client.http() as http:
            token = gmail_senders.refresh_token(account, keybox)
            if not await gmail.revoke(http, client, token):
                log.warning("Google could not be told to revoke org %s's token", caller.org_id)
    await audit.record(caller, session, "gmail_disconnect", {"address": account.address})
    return account.address
