"""The audit row every write of the application layer leaves, under the caller's identity.

One helper so the bot, the API and the portal record a use case identically: the same action
name, the caller's source, person and chat.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.caller import Caller
from store import audit


async def record(
    caller: Caller,
    session: AsyncSession,
    action: str,
    target: dict[str, object],
    *,
    result: str = "ok",
    org_id: int | None = None,
    chat_id: int | None = None,
    detail: str = "",
) -> None:
    """Append the caller's write (`org_id`/`chat_id` when it concerns another than theirs)."""
    await audit.record(
        session,
        org_id=caller.org_id if org_id is None else org_id,
        source=caller.source,
        action=action,
        result=result,
        target=target,
        actor_user_id=caller.user_id,
        chat_id=caller.chat_id if chat_id is None else chat_id,
        detail=detail,
    )
