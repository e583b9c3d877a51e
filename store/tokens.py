"""Control-API tokens: created from the bot, shown once, stored as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.logs import secrets as log_secrets
from store.db import rowcount
from store.models import ApiToken, utcnow

TOKEN_PREFIX = "lbt_"


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # the only time the plaintext exists
    prefix: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    session: AsyncSession, *, org_id: int, created_by: int | None, name: str = ""
) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        org_id=org_id,
        token_hash=_digest(token),
        prefix=token[:12],
        name=name[:100],
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return IssuedToken(row.id, token, row.prefix)


async def org_for_token(session: AsyncSession, *, token: str) -> int | None:
    """The org a live token belongs to (and note its use), or None."""
    row = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    log_secrets.add(token)
    row.last_used_at = utcnow()
    return row.org_id


async def list_tokens(session: AsyncSession, *, org_id: int) -> Sequence[ApiToken]:
    result = await session.scalars(
        select(ApiToken)
        .where(ApiToken.org_id == org_id, ApiToken.revoked_at.is_(None))
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
