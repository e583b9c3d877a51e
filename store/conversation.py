"""Conversation context: one row per (org, chat, person), the last turn the bot answered.

Kept in the database, not in a bot process's memory, so a follow-up reaches whichever process
takes the next update. A turn holds the intent, its slots and the reference of the result set
(the event id and the filter that produced it), not the guests of that set. One guest's data
is kept: after an answer about one person (`/find`), the slots hold that person's email
(`slots["email"]`), which "approve her" refers to. Such a row lives until the person's next
turn replaces it, until the next `/find` in the org sweeps it once stale (`forget_stale_people`),
until `forget_guest` erases it (no caller yet), or until the org is deleted. Rows are read
only for the org an update works in and only while fresh; org deletion removes them with
every other row carrying the org's id (`services.org_deletion`).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import rowcount, upsert_insert
from store.models import ChatContext

_KEYS = ["org_id", "chat_id", "user_id"]
_SAVED = ["intent", "slots", "result", "updated_at"]
_EMAIL = ChatContext.slots["email"].as_string()


async def save_turn(
    session: AsyncSession,
    *,
    org_id: int,
    chat_id: int,
    user_id: int,
    intent: str,
    slots: dict[str, Any],
    result: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Remember this turn in place of the previous one (one upsert, in the caller's session)."""
    await session.execute(
        _upsert(session.get_bind().dialect.name),
        {
            "org_id": org_id,
            "chat_id": chat_id,
            "user_id": user_id,
            "intent": intent,
            "slots": slots,
            "result": result,
            "updated_at": now,
        },
    )


@cache
def _upsert(dialect: str) -> Any:
    """The turn's upsert, built once per dialect: it runs on every answered message, and
    building the statement cost more than sending it (bench/bot.py's profile)."""
    columns = [*_KEYS, *_SAVED]
    insert = upsert_insert(dialect, ChatContext).values({name: bindparam(name) for name in columns})
    return insert.on_conflict_do_update(
        index_elements=_KEYS, set_={name: insert.excluded[name] for name in _SAVED}
    )


async def last_turn(
    session: AsyncSession, *, org_id: int, chat_id: int, user_id: int, since: datetime
) -> ChatContext | None:
    """The person's last turn in this chat and org, if it was saved after `since`."""
    return await session.scalar(
        select(ChatContext).where(
            ChatContext.org_id == org_id,
            ChatContext.chat_id == chat_id,
            ChatContext.user_id == user_id,
            ChatContext.updated_at > since,
        )
    )


async def forget_guest(session: AsyncSession, *, org_id: int, email: str) -> int:
    """Erase the org's remembered turns about the person with this email (any case); how many."""
    statement = delete(ChatContext).where(
        ChatContext.org_id == org_id, func.lower(_EMAIL) == email.strip().lower()
    )
    return rowcount(await session.execute(statement))


async def forget_stale_people(session: AsyncSession, *, org_id: int, before: datetime) -> int:
    """Erase the org's turns about one person saved before `before` (no longer read anyway)."""
    statement = delete(ChatContext).where(
        ChatContext.org_id == org_id, ChatContext.updated_at <= before, _EMAIL.is_not(None)
    )
    return rowcount(await session.execute(statement))
