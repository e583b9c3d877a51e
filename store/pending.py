"""Confirmations waiting for a button press; each can be taken exactly once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import PendingAction, utcnow

DEFAULT_TTL = timedelta(minutes=15)


async def park(
    session: AsyncSession,
    *,
    org_id: int,
    chat_id: int,
    user_id: int,
    kind: str,
    payload: dict[str, Any],
    ttl: timedelta = DEFAULT_TTL,
    language: str | None = None,
) -> str:
    """Store an action awaiting confirmation; returns its short id for callback data."""
    action = PendingAction(
        id=secrets.token_urlsafe(9),
        org_id=org_id,
        chat_id=chat_id,
        user_id=user_id,
        kind=kind,
        payload=payload,
        language=language,
        expires_at=utcnow() + ttl,
    )
    session.add(action)
    await session.flush()
    return action.id


async def take(session: AsyncSession, *, action_id: str, chat_id: int) -> PendingAction | None:
    """Consume the action if it is this chat's, unexpired and not taken yet (atomically)."""
    now = utcnow()
    result = await session.execute(
        update(PendingAction)
        .where(
            PendingAction.id == action_id,
            PendingAction.chat_id == chat_id,
            PendingAction.consumed_at.is_(None),
            PendingAction.expires_at > now,
        )
        .values(consumed_at=now)
        .returning(PendingAction)
    )
    return result.scalar_one_or_none()


async def put_back(session: AsyncSession, *, action_id: str) -> None:
    """Make a taken action available again (what it confirms failed to start); it still
    expires when it would have."""
    await session.execute(
        update(PendingAction).where(PendingAction.id == action_id).values(consumed_at=None)
    )
