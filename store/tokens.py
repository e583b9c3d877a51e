"""Control-API tokens: created from the bot, shown once, stored as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.logs import secrets as log_secrets
from store.db import rowcount
from store.models import ApiToken, Membership, Role, utcnow

TOKEN_PREFIX = "lbt_"
LAST_USE_PRECISION = timedelta(minutes=1)  # a token's "last used" is noted at most this often


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # the only time the plaintext exists
    prefix: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    session: AsyncSession,
    *,
    org_id: int,
    created_by: int | None,
    name: str = "",
    expires_at: datetime | None = None,
) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        org_id=org_id,
        token_hash=_digest(token),
        prefix=token[:12],
        name=name[:100],
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return IssuedToken(row.id, token, row.prefix)


@dataclass(frozen=True)
class TokenHolder:
    """Whom a live token acts for: its maker's org, and the role the maker has there now
    (None when the maker is no longer a member: the token then opens nothing)."""

    org_id: int
    created_by: int | None
    role: Role | None


async def token_holder(session: AsyncSession, *, token: str) -> TokenHolder | None:
    """The holder of a live token (and note its use), or None for an unknown, revoked or
    expired one.

    The role is read on every request, so removing or demoting the member who made a token
    takes effect on its next use."""
    maker = (Membership.org_id == ApiToken.org_id) & (Membership.user_id == ApiToken.created_by)
    row = (
        await session.execute(
            select(ApiToken, Membership.role)
            .outerjoin(Membership, maker)
            .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
            .where(or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))
        )
    ).first()
    if row is None:
        return None
    found, role = row
    log_secrets.add(token)
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at >= LAST_USE_PRECISION:
        found.last_used_at = now  # not a write on every request: "last used" to the minute
    return TokenHolder(found.org_id, found.created_by, role)


async def list_tokens(session: AsyncSession, *, org_id: int) -> Sequence[ApiToken]:
    result = await session.scalars(
        select(ApiToken)
        .where(ApiToken.org_id == org_id, ApiToken.revoked_at.is_(None))
        .where(or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))
        .order_by(ApiToken.created_at)
    )
    return result.all()


async def revoke_token(session: AsyncSession, *, org_id: int, prefix_or_id: str) -> int:
    """Revoke the org's tokens matching an id or a shown prefix; returns how many."""
    match = (
        ApiToken.id == int(prefix_or_id)
        if prefix_or_id.isdigit()
        else ApiToken.prefix == prefix_or_id
    )
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.org_id == org_id, ApiToken.revoked_at.is_(None), match)
        .values(revoked_at=utcnow())
    )
    return rowcount(result) or 0
