"""Deleting an organization: the Luma key and every row of its data, and its schedules.

What a calendar's admin is owed when they leave: nothing of their guests, profiles, tags,
notes, caches, tokens or settings stays. Rows are deleted table by table wherever an `org_id`
column is found (not through foreign-key cascades alone, which SQLite honours only when told
to), so a table added later is covered without being listed here. Kept, as the law asks: the
Stripe events ledger (billing records, no guest data) with its org reference cleared, and one
audit row saying that the organization was deleted, by whom and when, without its data.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from luma import LumaPool
from services import linking
from services.automations import Automations
from services.caller import Caller, Invalid, NotFound
from store import audit as audit_store
from store import orgs
from store.crypto import KeyBox
from store.db import rowcount
from store.models import (
    AuditEntry,
    AutomationSettings,
    Base,
    Chat,
    LumaRateSend,
    LumaRateState,
    Organization,
    StripeEvent,
    User,
)

KEPT_TABLES = frozenset({AuditEntry.__tablename__, StripeEvent.__tablename__})


@dataclass(frozen=True)
class Deleted:
    name: str
    rows: int  # rows deleted, every table together


async def delete_org(
    caller: Caller,
    session: AsyncSession,
    automations: Automations,
    *,
    confirm_name: str,
    luma: LumaPool,
    keybox: KeyBox,
) -> Deleted:
    """Delete the caller's org once its name is typed back; stops its schedules and deletes
    its Luma webhook first (inside the caller's transaction: if the schedules cannot be
    stopped, nothing is deleted; a webhook Luma will not delete is logged and forgotten)."""
    caller.require_admin()
    org = await session.get(Organization, caller.org_id)
    if org is None:
        raise NotFound("There is no such calendar.")
    if " ".join(confirm_name.split()).casefold() != " ".join(org.name.split()).casefold():
        raise Invalid(f"To delete, type the calendar's name exactly: “{html.escape(org.name)}”.")
    name, calendar_id = org.name, org.luma_calendar_id
    chats = await orgs.org_chats(session, org_id=org.id)
    # Digests of every chat of the org, DMs that chose it with /use included (not linked).
    digests = set(
        await session.scalars(
            select(AutomationSettings.chat_id).where(AutomationSettings.org_id == org.id)
        )
    )
    await automations.on_org_unlinked(org.id, sorted({chat.id for chat in chats} | digests))
    await automations.cancel_running(org.id)
    await linking.drop_webhook(session, org, luma=luma, keybox=keybox)
    rows = 0
    for table in reversed(Base.metadata.sorted_tables):  # children before parents
        if "org_id" not in table.columns or table.name in KEPT_TABLES:
            continue
        if table.name == Chat.__tablename__:  # the chats are Telegram's: unlinked, not deleted
            await session.execute(update(Chat).where(Chat.org_id == org.id).values(org_id=None))
            continue
        rows += rowcount(await session.execute(delete(table).where(table.c.org_id == org.id)))
    await session.execute(
        update(User).where(User.active_org_id == org.id).values(active_org_id=None)
    )
    await session.execute(delete(AuditEntry).where(AuditEntry.org_id == org.id))
    await session.execute(
        update(StripeEvent).where(StripeEvent.org_id == org.id).values(org_id=None)
    )
    for model in (LumaRateSend, LumaRateState):
        await session.execute(delete(model).where(model.budget_key == calendar_id))
    await session.delete(org)
    await session.flush()
    # The one row kept: that it happened, by whom; no org to point at any more.
    await audit_store.record(
        session,
        org_id=None,
        source=caller.source,
        action="org_deleted",
        result="ok",
        target={"rows": rows},
        actor_user_id=caller.user_id,
        chat_id=caller.chat_id,
    )
    return Deleted(name, rows)
