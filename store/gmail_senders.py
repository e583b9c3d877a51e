"""The rows of "Send from Gmail": an org's connected account and pending Connect presses.

The refresh token is encrypted with the KeyBox like a Luma key; a Connect press is kept as
the SHA-256 of its OAuth `state`, bound to the portal session that made it, and taken once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.crypto import KeyBox
from store.db import rowcount
from store.models import GmailConnectState, GmailSender, utcnow


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def get(session: AsyncSession, *, org_id: int) -> GmailSender | None:
    return await session.get(GmailSender, org_id)


def refresh_token(account: GmailSender, keybox: KeyBox) -> str:
    return keybox.decrypt(account.token_ciphertext)


async def save(
    session: AsyncSession,
    *,
    org_id: int,
    address: str,
    token: str,
    keybox: KeyBox,
    by: int | None,
) -> GmailSender:
    """Connect (or reconnect) the org's account; one per org, the newest wins."""
    account = await session.get(GmailSender, org_id)
    if account is None:
        account = GmailSender(org_id=org_id)
        session.add(account)
    account.address = address
    account.token_ciphertext = keybox.encrypt(token)
    account.connected_by = by
    account.connected_at = utcnow()
    await session.flush()
    return account


async def remove(session: AsyncSession, *, org_id: int) -> GmailSender | None:
    """Forget the org's account; returns what was removed (None: nothing was connected)."""
    account = await session.get(GmailSender, org_id)
    if account is not None:
        await session.delete(account)
        await session.flush()
    return account


async def add_state(
    session: AsyncSession,
    *,
    state: str,
    session_hash: str,
    org_id: int,
    user_id: int,
    verifier: str,
    keybox: KeyBox,
    expires_at: datetime,
) -> None:
    # Each press sweeps the presses nobody came back from.
    await session.execute(delete(GmailConnectState).where(GmailConnectState.expires_at < utcnow()))
    session.add(
        GmailConnectState(
            state_hash=_digest(state),
            session_hash=session_hash,
            org_id=org_id,
            user_id=user_id,
            verifier_ciphertext=keybox.encrypt(verifier),
            expires_at=expires_at,
        )
    )
    await session.flush()


async def take_state(
    session: AsyncSession,
    *,
    state: str,
    session_hash: str,
    org_id: int,
    user_id: int,
    keybox: KeyBox,
) -> str | None:
    """The PKCE verifier of a live press by this same session, person and org, spent by one
    conditional DELETE (a replayed callback finds nothing); None when there is none."""
    where = (
        GmailConnectState.state_hash == _digest(state),
        GmailConnectState.session_hash == session_hash,
        GmailConnectState.org_id == org_id,
        GmailConnectState.user_id == user_id,
        GmailConnectState.expires_at > utcnow(),
    )
    ciphertext = await session.scalar(select(GmailConnectState.verifier_ciphertext).where(*where))
    if (
        ciphertext is None
        or rowcount(await session.execute(delete(GmailConnectState).where(*where))) != 1
    ):
        return None
    return keybox.decrypt(ciphertext)
