"""Guest lists with filters and cursors, a person's history, and CSV export."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from intel.people import Insight, insights_for
from intel.vip import VipRules
from store.models import Event, Guest

SortKey = Literal["name", "email", "registered_at", "status"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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


class BadCursor(ValueError):
    """The cursor was not one we handed out."""


@dataclass
class GuestFilter:
    status: str | None = None
    domain: str | None = None
    search: str | None = None
    sort: SortKey = "name"
    limit: int = 50


@dataclass
class GuestPage:
    guests: list[Guest]
    next_cursor: str | None
    total: int


def _sort_column(sort: SortKey) -> Any:
    return {
        "name": func.lower(Guest.name),
        "email": Guest.email,
        "registered_at": func.coalesce(Guest.registered_at, EPOCH),
        "status": Guest.approval_status,
    }[sort]


def _encode(value: Any, guest_id: int) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    return base64.urlsafe_b64encode(json.dumps([value, guest_id]).encode()).decode()


def _decode(cursor: str) -> tuple[Any, int]:
    try:
        value, guest_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        return value, int(guest_id)
    except (ValueError, TypeError, KeyError) as exc:
        raise BadCursor("this page cursor is not valid; start from the first page") from exc


def _sort_value(guest: Guest, sort: SortKey) -> Any:
    return {
        "name": guest.name.lower(),
        "email": guest.email,
        "registered_at": guest.registered_at or EPOCH,
        "status": guest.approval_status,
    }[sort]


def _filtered(org_id: int, event_id: str, query: GuestFilter) -> Any:
    statement = select(Guest).where(
        Guest.org_id == org_id, Guest.luma_event_id == event_id, Guest.gone_at.is_(None)
    )
    if query.status:
        statement = statement.where(Guest.approval_status == query.status)
    if query.domain:
        statement = statement.where(Guest.email_domain == query.domain.lower().lstrip("@"))
    if query.search:
        pattern = f"%{query.search.strip().lower()}%"
        statement = statement.where(
            or_(func.lower(Guest.name).like(pattern), func.lower(Guest.email).like(pattern))
        )
    return statement


async def guest_page(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    query: GuestFilter,
    cursor: str | None = None,
) -> GuestPage:
    """One page in a stable order; the cursor is the last row's sort key (keyset paging)."""
    base = _filtered(org_id, event_id, query)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    column = _sort_column(query.sort)
    statement = base.order_by(column, Guest.id)
    if cursor:
        value, last_id = _decode(cursor)
        statement = statement.where(tuple_(column, Guest.id) > tuple_(value, last_id))
    rows = list((await session.scalars(statement.limit(query.limit + 1))).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    following = _encode(_sort_value(rows[-1], query.sort), rows[-1].id) if more else None
    return GuestPage(rows, following, total)


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


def _csv_lines(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        # Cells starting with = + - @ are formulas to spreadsheet apps: neutralize them.
        writer.writerow([f"'{c}" if str(c)[:1] in "=+-@" and c else c for c in row])
    return buffer.getvalue()
