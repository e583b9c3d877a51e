"""Who a follow-up goes to (from the guest cache) and who asked not to get any (per org).

Audiences: `attended` are guests who checked in; `no-shows` are approved guests who did not
check in; `all` is both, i.e. every approved guest. Pending, waitlisted and declined guests
were never let in, so a post-event email would only confuse them. One email per person:
registrations are merged by normalized email (`luma.identity_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luma import identity_key
from luma.models import APPROVED_STATUSES
from store.db import upsert_insert
from store.models import Guest, MailUnsubscribe


@dataclass(frozen=True)
class Recipient:
    normalized_email: str
    email: str
    name: str


def _audience(audience: str) -> ColumnElement[bool]:
    approved = Guest.approval_status.in_([str(status) for status in APPROVED_STATUSES])
    attended = Guest.checked_in_at.is_not(None)
    if audience == "attended":
        return attended
    if audience == "no-shows":
        return approved & Guest.checked_in_at.is_(None)
    if audience == "all":
        return or_(approved, attended)
    raise ValueError(f"unknown audience {audience!r}")


async def recipients(
    session: AsyncSession, *, org_id: int, event_id: str, audience: str
) -> list[Recipient]:
    """The audience's people, one per normalized email, in a stable order."""
    rows = await session.execute(
        select(Guest.normalized_email, Guest.email, Guest.name)
        .where(
            Guest.org_id == org_id,
            Guest.luma_event_id == event_id,
            Guest.gone_at.is_(None),
            Guest.email != "",
            _audience(audience),
        )
        .order_by(Guest.normalized_email, Guest.id)
    )
    people: dict[str, Recipient] = {}
    for normalized, email, name in rows:
        people.setdefault(normalized, Recipient(normalized, email, name or ""))
    return list(people.values())


async def unsubscribed(
    session: AsyncSession, *, org_id: int, normalized_emails: Iterable[str]
) -> set[str]:
    """Which of these people asked this org for no more emails."""
    wanted = list(set(normalized_emails))
    if not wanted:
        return set()
    rows = await session.scalars(
        select(MailUnsubscribe.normalized_email).where(
            MailUnsubscribe.org_id == org_id, MailUnsubscribe.normalized_email.in_(wanted)
        )
    )
    return set(rows)


async def unsubscribe(
    session: AsyncSession, *, org_id: int, email: str, source: str, by: int | None = None
) -> bool:
    """Put the person on the org's list; False when they were on it already."""
    insert = upsert_insert(session.get_bind().dialect.name, MailUnsubscribe).values(
        org_id=org_id, normalized_email=identity_key(email), source=source, created_by=by
    )
    # RETURNING, not rowcount: drivers count a skipped ON CONFLICT row differently.
    added = await session.scalar(
        insert.on_conflict_do_nothing(index_elements=["org_id", "normalized_email"]).returning(
            MailUnsubscribe.id
        )
    )
    return added is not None
