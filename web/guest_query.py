"""The guest browser's query: filters, sort on every column, pages, and what a bulk job takes.

Everything runs in the database over the org's cached guests, so a page over an event with
50,000 guests costs one count and one sorted page (see tests/web/test_guest_query.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, String, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_filter import GuestFilter as BulkFilter
from intel.people import insight_of
from intel.vip import VipRules
from store.models import Guest, GuestProfile, GuestTag

PER_PAGE = 50
MAX_PAGE = 10_000
# Selections the bulk filter cannot express (search, VIP, repeat) travel as an email list in
# the workflow input; beyond this many, the person is asked to narrow the filter.
MAX_BULK_EMAILS = 2000

SORTS: dict[str, Any] = {
    "name": func.lower(Guest.name),
    "email": Guest.email,
    "company": func.lower(func.coalesce(Guest.company, "")),
    "status": Guest.approval_status,
    "registered": Guest.registered_at,
    "checked_in": Guest.checked_in_at,
}


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
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GuestView:
        """Lenient: a bad value falls back to its default rather than failing the page."""
        page = _text(params.get("page"), 6)
        return cls(
            q=_text(params.get("q")),
            status=_text(params.get("status"), 32),
            domain=_text(params.get("domain"), 255).lower().lstrip("@"),
            tag=_text(params.get("tag"), 64).lower(),
            vip=params.get("vip") in ("1", "on", "true"),
            repeat=params.get("repeat") in ("1", "on", "true"),
            question=_text(params.get("question")),
            answer=_text(params.get("answer")),
            sort=sort if (sort := _text(params.get("sort"), 20)) in SORTS else "name",
            desc=params.get("desc") in ("1", "on", "true"),
            page=min(int(page), MAX_PAGE) if page.isdigit() and int(page) > 0 else 1,
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

    def sort_query(self, column: str) -> str:
        """The link of a column header: sort by it, or flip its direction."""
        return self.query(sort=column, desc=not self.desc if self.sort == column else False, page=1)

    @property
    def filtered(self) -> bool:
        return any(self.params(sort="name", desc=False, page=1).values())

    def bulk_filter(self) -> BulkFilter | None:
        """The same selection as the bulk job's own filter, when it can say it (search, VIP
        and repeat it cannot: those travel as an email list, see `matching_emails`)."""
        if self.q or self.vip or self.repeat or (self.answer and not self.question):
            return None
        return BulkFilter(
            statuses=[self.status] if self.status else [],
            domains=[self.domain] if self.domain else [],
            tags=[self.tag] if self.tag else [],
            answer_label=self.question or None,
            answer_value=self.answer or None,
        )


@dataclass(frozen=True)
class PeopleRules:
    """What the VIP and repeat filters need beyond the view: see `people_rules`."""

    vips: frozenset[str] = frozenset()
    repeat_min_events: int = VipRules().repeat_min_events


def statement(
    org_id: int, event_id: str, view: GuestView, people: PeopleRules = PeopleRules()
) -> Select[tuple[Guest]]:
    """The view's guests of one event of one org (unsorted)."""
    query = select(Guest).where(
        Guest.org_id == org_id, Guest.luma_event_id == event_id, Guest.gone_at.is_(None)
    )
    if view.status:
        query = query.where(Guest.approval_status == view.status)
    if view.domain:
        query = query.where(Guest.email_domain == view.domain)
    if view.q:
        pattern = f"%{view.q.lower()}%"
        query = query.where(
            or_(
                func.lower(Guest.name).like(pattern),
                func.lower(Guest.email).like(pattern),
                func.lower(func.coalesce(Guest.company, "")).like(pattern),
            )
        )
    if view.tag:
        query = query.where(
            exists().where(
                GuestTag.org_id == org_id,
                GuestTag.normalized_email == Guest.normalized_email,
                GuestTag.tag == view.tag,
            )
        )
    if view.vip:
        query = query.where(Guest.normalized_email.in_(list(people.vips)))
    if view.repeat:
        query = query.where(
            exists().where(
                GuestProfile.org_id == org_id,
                GuestProfile.normalized_email == Guest.normalized_email,
                GuestProfile.events_registered >= people.repeat_min_events,
            )
        )
    # Registration answers are JSON; matching their text is coarse but index-free and
    # portable, and the bulk confirmation recounts with the job's own exact matcher.
    answers = func.lower(cast(Guest.registration_answers, String))
    for needle in (view.question, view.answer):
        if needle:
            query = query.where(answers.like(f"%{needle.lower()}%"))
    return query


async def people_rules(
    session: AsyncSession, *, org_id: int, event_id: str, view: GuestView, rules: VipRules
) -> PeopleRules:
    """The repeat threshold, and when the view asks for VIPs, who they are in this event.

    VIP scores are computed by `intel.vip` in Python, never stored, so this reads the event's
    people once (a second or so at 50,000 guests) and only when the VIP filter is on.
    """
    if not view.vip:
        return PeopleRules(repeat_min_events=rules.repeat_min_events)
    # Two joined reads instead of IN-lists of 50,000 keys; scoring stays intel.vip's.
    keys = (
        select(Guest.normalized_email)
        .where(Guest.org_id == org_id, Guest.luma_event_id == event_id, Guest.gone_at.is_(None))
        .distinct()
    )
    profiles = {
        profile.normalized_email: profile
        for profile in await session.scalars(
            select(GuestProfile).where(
                GuestProfile.org_id == org_id, GuestProfile.normalized_email.in_(keys)
            )
        )
    }
    tags: dict[str, list[str]] = {}
    for key, tag in await session.execute(
        select(GuestTag.normalized_email, GuestTag.tag)
        .where(GuestTag.org_id == org_id, GuestTag.normalized_email.in_(keys))
        .order_by(GuestTag.tag)
    ):
        tags.setdefault(key, []).append(tag)
    insights = {
        key: insight_of(key, profiles.get(key), tags.get(key, []), [], rules)
        for key in await session.scalars(keys)
    }
    return PeopleRules(
        frozenset(key for key, insight in insights.items() if insight.vip.is_vip),
        rules.repeat_min_events,
    )


async def browse(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    view: GuestView,
    per_page: int = PER_PAGE,
    people: PeopleRules = PeopleRules(),
) -> tuple[Sequence[Guest], int]:
    """One page of the view in its order, and how many guests the view holds."""
    base = statement(org_id, event_id, view, people)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    column = SORTS[view.sort]
    ordered = column.desc().nulls_last() if view.desc else column.asc().nulls_last()
    tiebreak = Guest.id.desc() if view.desc else Guest.id.asc()
    rows = await session.scalars(
        base.order_by(ordered, tiebreak).offset((view.page - 1) * per_page).limit(per_page)
    )
    return rows.all(), total


async def matching_emails(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    view: GuestView,
    people: PeopleRules = PeopleRules(),
) -> list[str] | None:
    """Every email the view holds, or None when there are more than a job may carry."""
    base = statement(org_id, event_id, view, people).with_only_columns(Guest.email)
    emails = list(await session.scalars(base.order_by(Guest.id).limit(MAX_BULK_EMAILS + 1)))
    return None if len(emails) > MAX_BULK_EMAILS else emails


async def known_emails(
    session: AsyncSession, *, org_id: int, event_id: str, emails: Sequence[str]
) -> list[str]:
    """The selected emails that are on this event's list (others are dropped, not trusted)."""
    wanted = {email.strip().lower() for email in emails if email.strip()}
    if not wanted:
        return []
    rows = await session.scalars(
        select(Guest.email).where(
            and_(
                Guest.org_id == org_id,
                Guest.luma_event_id == event_id,
                Guest.gone_at.is_(None),
                func.lower(Guest.email).in_(list(wanted)[:MAX_BULK_EMAILS]),
            )
        )
    )
    return sorted(rows.all())


def view_from_form(form: Mapping[str, Any]) -> GuestView:
    """The view a bulk form carried in its hidden fields (prefixed `f_`)."""
    return GuestView.from_params(
        {key[2:]: value for key, value in form.items() if key.startswith("f_")}
    )
