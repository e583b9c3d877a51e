"""Organization keys waiting for the calendar to link: parked once, taken once."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from store.crypto import KeyBox
from store.models import LinkOffer, utcnow

OFFER_TTL = timedelta(minutes=15)


async def offer(
    session: AsyncSession,
    *,
    chat_id: int,
    user_id: int,
    luma_key: str,
    calendars: Sequence[dict[str, Any]],
    keybox: KeyBox,
) -> str:
    """Park the key (encrypted) with the calendars it opens; returns the id for the buttons."""
    await _drop_expired(session)
    row = LinkOffer(
        id=secrets.token_urlsafe(9),
        chat_id=chat_id,
        user_id=user_id,
        key_ciphertext=keybox.encrypt(luma_key),
        calendars=list(calendars),
        expires_at=utcnow() + OFFER_TTL,
    )
    session.add(row)
    await session.flush()
    return row.id


async def take(
    session: AsyncSession, *, offer_id: str, chat_id: int, user_id: int
) -> LinkOffer | None:
    """Remove and return the offer if it is this person's in this chat and still open."""
    await _drop_expired(session)
    result = await session.execute(
        delete(LinkOffer)
        .where(
            LinkOffer.id == offer_id,
            LinkOffer.chat_id == chat_id,
            LinkOffer.user_id == user_id,
            LinkOffer.expires_at > utcnow(),
        )
        .returning(LinkOffer)
    )
    return result.scalar_one_or_none()


async def _drop_expired(session: AsyncSession) -> None:
    """Every offer and every press drops the expired offers, so an unanswered organization
    key does not stay stored longer than the next use of `/link` by anyone."""
    await session.execute(delete(LinkOffer).where(LinkOffer.expires_at <= utcnow()))
