"""What a bulk status job would do, previewed from the cache before anyone confirms it.

The bot, the control API and the portal all show this preview ("approve 120 pending
guests?"). It runs the job's own `GuestFilter` compiled to SQL (`catalog.guest_query`),
which tests hold equal to the job's Python predicate (`GuestFilter.matches`) over the same
guests, so a preview and the job it announces agree about who matches; only the freshness of
the data differs (the job re-reads Luma).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_filter import GuestFilter
from catalog.guest_query import prepare
from intel.vip import VipRules
from luma import LumaGuest, identity_key
from luma.errors import InvalidEmailError
from store.models import Guest

SAMPLE_SIZE = 10


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
        name=guest.name,
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


async def preview_bulk(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    target_status: str,
    guest_filter: GuestFilter,
    should_refund: bool | None = None,
    sample_size: int = SAMPLE_SIZE,
    rules: VipRules,
) -> BulkPreview:
    """Count the cached guests a job would touch: three aggregate counts and one sample
    query over the filter's own SQL, so 50,000 guests cost no more than a list page.

    `rules` (the org's, `intel.vip_rules.vip_rules_for`) score VIPs and set the repeat
    threshold when the filter asks for them.
    """
    query = await prepare(
        session,
        org_id=org_id,
        event_id=event_id,
        guest_filter=guest_filter,
        rules=rules,
    )
    already = Guest.approval_status == target_status
    refund_unknown = target_status == "declined" and should_refund is None
    needs_choice = and_(~already, Guest.is_paid) if refund_unknown else false()
    matched, in_target, refunds = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(already),
                func.count().filter(needs_choice),
            ).where(*query.conditions())
        )
    ).one()
    sample = await session.scalars(
        query.statement().where(~already, ~needs_choice).order_by(Guest.id).limit(sample_size)
    )
    asked = {identity_key(raw): raw for raw in guest_filter.emails if _is_email(raw)}
    seen: set[str] = set()
    if asked:
        seen = set(
            await session.scalars(
                select(Guest.normalized_email).where(*query.conditions()).distinct()
            )
        )
    return BulkPreview(
        matched=matched,
        to_change=matched - in_target - refunds,
        already=in_target,
        needs_refund_choice=refunds,
        unknown_emails=[raw for key, raw in asked.items() if key not in seen],
        sample=list(sample),
    )


def _is_email(raw: str) -> bool:
    try:
        identity_key(raw)
    except InvalidEmailError:
        return False
    return True
