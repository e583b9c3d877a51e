"""A person's history, and CSV export of guest lists (lists themselves: catalog.guest_query)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_query import GuestQuery, GuestSort, Sessions, guest_batches
from intel.people import Insight, insights_for
from intel.vip import VipRules
from store.models import Event, Guest

CSV_COLUMNS = (
    "name",
    "email",
    "approval_status",
    "company",
    "job_title",
    "registered_at",
    "checked_in_at",
    "is_paid",
    # The person across the org's events (intel.people): ours, never sent to Luma.
    "company_source",
    "tags",
    "notes",
    "vip_score",
    "vip_reasons",
    "repeat_count",
)
CSV_BATCH = 1000  # rows per keyset batch while streaming an export


async def person_history(
    session: AsyncSession, *, org_id: int, who: str, limit: int = 20
) -> Sequence[tuple[Guest, Event | None]]:
    """Every registration of a person (by email, or by name when no @) across events."""
    needle = who.strip().lower()
    statement = select(Guest, Event).outerjoin(
        Event, (Event.org_id == Guest.org_id) & (Event.luma_event_id == Guest.luma_event_id)
    )
    statement = statement.where(Guest.org_id == org_id, Guest.gone_at.is_(None))
    if "@" in needle:
        statement = statement.where(
            or_(func.lower(Guest.email) == needle, Guest.normalized_email == needle)
        )
    else:
        statement = statement.where(func.lower(Guest.name).like(f"%{needle}%"))
    statement = statement.order_by(Event.start_at.desc(), Guest.id).limit(limit)
    return [(guest, event) for guest, event in await session.execute(statement)]


def csv_header() -> str:
    return _csv_lines([CSV_COLUMNS])


def csv_rows(guests: Iterable[Guest], insights: Mapping[str, Insight] | None = None) -> str:
    """Rows for `CSV_COLUMNS`; profile columns stay blank for people `insights` lacks."""
    insights = insights or {}
    return _csv_lines(
        [
            guest.name,
            guest.email,
            guest.approval_status,
            guest.company or (insight.company if insight else None) or "",
            guest.job_title or "",
            guest.registered_at.isoformat() if guest.registered_at else "",
            guest.checked_in_at.isoformat() if guest.checked_in_at else "",
            "yes" if guest.is_paid else "no",
            *_profile_cells(guest, insight),
        ]
        for guest in guests
        for insight in [insights.get(guest.normalized_email)]
    )


def _profile_cells(guest: Guest, insight: Insight | None) -> list[Any]:
    if insight is None:
        return ["", "", "", "", "", ""]
    source = "answers" if guest.company else (insight.company_source or "")
    return [
        source,
        " ".join(insight.tags),
        " | ".join(" ".join(note.text.split()) for note in insight.notes),
        insight.vip.score,
        "; ".join(insight.vip.reasons),
        insight.repeat_count,
    ]


async def csv_page(
    session: AsyncSession, *, org_id: int, guests: Sequence[Guest], rules: VipRules
) -> str:
    """CSV rows for some of an org's guests, profile columns included."""
    insights = await insights_for(
        session, org_id=org_id, emails=[guest.normalized_email for guest in guests], rules=rules
    )
    return csv_rows(guests, insights)


async def csv_chunks(
    sessions: Sessions,
    query: GuestQuery,
    *,
    sort: GuestSort = GuestSort(),
    rules: VipRules,
    batch: int = CSV_BATCH,
) -> AsyncIterator[str]:
    """The export of a guest list: the header, then the rows of each keyset batch with their
    profile columns, as CSV text. Memory stays flat at 50,000 guests; each batch is read on
    a short session of its own (see `catalog.guest_query.guest_batches`)."""
    yield csv_header()
    async for guests in guest_batches(sessions, query, sort=sort, size=batch):
        async with sessions() as session:
            chunk = await csv_page(session, org_id=query.org_id, guests=guests, rules=rules)
        yield chunk  # outside the session: a slow reader never holds a pooled connection


# Cells a spreadsheet app would read as a formula (OWASP's CSV injection list): = + - @, and
# a tab or carriage return, which some apps skip before looking for one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The cell as data, never as a formula: a leading quote neutralizes a formula start."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _csv_lines(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()
