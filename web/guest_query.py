"""The guest browser's URL state: query parameters to the product's one guest filter.

A `GuestView` is what the table's links and forms carry (filters, sort, page cursor); it
turns into a `catalog.guest_filter.GuestFilter` and a `catalog.guest_query.GuestSort`, and
every list, count, export and bulk job of the portal runs those, exactly as the bot and the
API do. Pages are keyset pages (`after` / `before` cursors), so a page over an event with
50,000 guests costs one count and one sorted page wherever it is (tests/web/test_guest_query.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_filter import GuestFilter
from catalog.guest_query import BadCursor, GuestPage, GuestSort, SortKey, guest_page, prepare
from intel.vip import VipRules
from store.models import Guest

PER_PAGE = 50
MAX_SELECTED = 2000  # ticked rows one "selected guests" job may carry
# The table's column names (as they appear in URLs) and the sort each one means.
SORTS: dict[str, SortKey] = {
    "name": "name",
    "email": "email",
    "company": "company",
    "status": "status",
    "registered": "registered_at",
    "checked_in": "checked_in_at",
}
_YES = ("1", "on", "true")


def _text(value: object, limit: int = 200) -> str:
    return str(value or "").strip()[:limit]


@dataclass
class GuestView:
    """The table's state, as it travels in the URL (every field optional)."""

    q: str = ""
    status: str = ""
    domain: str = ""
    tag: str = ""
    vip: bool = False
    repeat: bool = False
    question: str = ""
    answer: str = ""
    sort: str = "name"
    desc: bool = False
    after: str = ""  # cursor: the page after this row
    before: str = ""  # cursor: the page before this row

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GuestView:
        """Lenient: a bad value falls back to its default rather than failing the page."""
        return cls(
            q=_text(params.get("q")),
            status=_text(params.get("status"), 32),
            domain=_text(params.get("domain"), 255).lower().lstrip("@"),
            tag=_text(params.get("tag"), 64).lower(),
            vip=params.get("vip") in _YES,
            repeat=params.get("repeat") in _YES,
            question=_text(params.get("question")),
            answer=_text(params.get("answer")),
            sort=sort if (sort := _text(params.get("sort"), 20)) in SORTS else "name",
            desc=params.get("desc") in _YES,
            after=_text(params.get("after"), 1000),
            before=_text(params.get("before"), 1000),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """Non-default fields as query parameters, with `changes` applied."""
        values = {**asdict(self), **changes}
        defaults = {f.name: f.default for f in fields(GuestView)}
        return {
            key: ("1" if value is True else str(value))
            for key, value in values.items()
            if value != defaults[key]
        }

    def query(self, **changes: Any) -> str:
        return urlencode(self.params(**changes))

    def filter_query(self, **changes: Any) -> str:
        """The same filter and sort from the first page (for links that start over)."""
        return self.query(after="", before="", **changes)

    def sort_query(self, column: str) -> str:
        """The link of a column header: sort by it, or flip its direction."""
        return self.filter_query(sort=column, desc=not self.desc if self.sort == column else False)

    @property
    def filtered(self) -> bool:
        return any(self.params(sort="name", desc=False, after="", before="").values())

    @property
    def answer_ignored(self) -> bool:
        """An answer without a question names no question: the filter ignores it."""
        return bool(self.answer and not self.question)

    def guest_filter(self) -> GuestFilter:
        """The view's selection as the product's one guest filter (a bulk job takes it as is)."""
        return GuestFilter(
            statuses=[self.status] if self.status else [],
            domains=[self.domain] if self.domain else [],
            tags=[self.tag] if self.tag else [],
            answer_label=self.question or None,
            answer_value=self.answer or None,
            search=self.q or None,
            vip=self.vip,
            repeat=self.repeat,
        )

    def guest_sort(self) -> GuestSort:
        return GuestSort(SORTS[self.sort], self.desc)


async def browse(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    view: GuestView,
    rules: VipRules,
    per_page: int = PER_PAGE,
) -> GuestPage:
    """One page of the view in its order, its neighbours' cursors, and the view's count.

    A cursor from another sort (an old link) shows the first page instead of an error.
    """
    query = await prepare(
        session, org_id=org_id, event_id=event_id, guest_filter=view.guest_filter(), rules=rules
    )
    sort = view.guest_sort()
    try:
        return await guest_page(
            session,
            query,
            sort=sort,
            after=view.after or None,
            before=view.before or None,
            limit=per_page,
        )
    except BadCursor:
        return await guest_page(session, query, sort=sort, limit=per_page)


async def known_emails(
    session: AsyncSession, *, org_id: int, event_id: str, emails: Sequence[str]
) -> list[str]:
    """The selected emails that are on this event's list (others are dropped, not trusted)."""
    wanted = {email.strip().lower() for email in emails if email.strip()}
    if not wanted:
        return []
    rows = await session.scalars(
        select(Guest.email).where(
            Guest.org_id == org_id,
            Guest.luma_event_id == event_id,
            Guest.gone_at.is_(None),
            func.lower(Guest.email).in_(sorted(wanted)[:MAX_SELECTED]),
        )
    )
    return sorted(rows.all())


def view_from_form(form: Mapping[str, Any]) -> GuestView:
    """The view a bulk form carried in its hidden fields (prefixed `f_`)."""
    return GuestView.from_params(
        {key[2:]: value for key, value in form.items() if key.startswith("f_")}
    )
