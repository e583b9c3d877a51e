"""What a bulk status job would do, previewed from the cache before anyone confirms it.

The bot and the control API both show this preview ("approve 120 pending guests?"). It uses
the bulk workflow's own matcher (`activities.bulk.GuestFilter.matches`) on cached rows, so a
preview and the job it announces can never disagree about who matches; only the freshness of
the data differs (the job re-reads Luma).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_filter import GuestFilter
from luma import LumaGuest, identity_key
from store.models import Guest
from store.profiles import tagged_emails

SAMPLE_SIZE = 10
_STREAM_BATCH = 1000


@dataclass
class BulkPreview:
    """Counts a job over these guests would produce, and a few of the guests it would change."""

    matched: int = 0
    to_change: int = 0
    already: int = 0  # in the target status already: the job skips them
    needs_refund_choice: int = 0  # paid guests a decline without `should_refund` cannot touch
    unknown_emails: list[str] = field(default_factory=list)  # asked for, not on the list
    sample: list[Guest] = field(default_factory=list)


def as_luma_guest(guest: Guest) -> LumaGuest:
    """A cached row in the shape the bulk workflow filters (answers as `sync.guest_row` stores)."""
    return LumaGuest(
        id=guest.luma_guest_id,
        email=guest.email,
        approval_status=guest.approval_status,
        registration_answers=[
            {
                "label": item.get("label") or "",
                "question_type": item.get("type"),
                "answer": item.get("answer"),
            }
            for item in guest.registration_answers or []
            if isinstance(item, dict)
        ],
    )


def matches_cached(
    guest: Guest, guest_filter: GuestFilter, tagged: Collection[str] = frozenset()
) -> bool:
    """True when the bulk job would pick this cached guest (`tagged`: people with the
    filter's tags, as the job resolves them)."""
    return guest_filter.matches(as_luma_guest(guest), tagged)


async def preview_bulk(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    target_status: str,
    guest_filter: GuestFilter,
    should_refund: bool | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> BulkPreview:
    """Count the cached guests a job would touch; streams rows, so 50,000 guests are fine."""
    statement = select(Guest).where(
        Guest.org_id == org_id, Guest.luma_event_id == event_id, Guest.gone_at.is_(None)
    )
    # Narrow in SQL with the cheap, exact parts; the shared matcher still has the last word.
    if guest_filter.statuses:
        statement = statement.where(Guest.approval_status.in_(guest_filter.statuses))
    if guest_filter.domains:
        domains = {domain.lower().lstrip("@") for domain in guest_filter.domains}
        statement = statement.where(Guest.email_domain.in_(domains))
    asked = {identity_key(raw): raw for raw in guest_filter.emails}  # one inbox, one entry
    if asked:
        statement = statement.where(Guest.normalized_email.in_(list(asked)))
    tagged = await tagged_emails(session, org_id=org_id, tags=guest_filter.tags)
    if guest_filter.tags:
        statement = statement.where(Guest.normalized_email.in_(list(tagged)))
    preview, seen = BulkPreview(), set()
    rows = await session.stream_scalars(
        statement.order_by(Guest.id).execution_options(yield_per=_STREAM_BATCH)
    )
    async for guest in rows:
        if not matches_cached(guest, guest_filter, tagged):
            continue
        preview.matched += 1
        seen.add(guest.normalized_email)
        if guest.approval_status == target_status:
            preview.already += 1
        elif target_status == "declined" and guest.is_paid and should_refund is None:
            preview.needs_refund_choice += 1
        else:
            preview.to_change += 1
            if len(preview.sample) < sample_size:
                preview.sample.append(guest)
    preview.unknown_emails = [raw for key, raw in asked.items() if key not in seen]
    return preview
