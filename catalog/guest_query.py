"""A `GuestFilter` compiled to SQL: every guest list, count, page, export and bulk preview.

One `select` over `store.models.Guest`, org- and event-scoped, live rows only (`gone_at IS
NULL`), with every part of the filter exact in SQL, so counts and pages are exact too:

- the answer filter is a real per-answer match over the JSON list `registration_answers`
  (`EXISTS` over its elements: `json_array_elements` on PostgreSQL, `json_each` on SQLite,
  see `_AnswerMatch`), the same test as `GuestMatcher._answer_matches` in Python;
- tags and repeat guests are `EXISTS` joins on `guest_tags` / `guest_profiles`;
- VIPs are scored in Python by `intel.vip` (never stored), so `prepare` scores the event's
  people once and the statement takes their keys (`vip_keys`, shared with the bulk job).

Paging is keyset paging: a cursor is the sort key and id of the row it follows (or precedes),
so page 900 costs what page 1 costs and a page never shifts when rows are added before it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, load_only
from sqlalchemy.sql.visitors import InternalTraversal

from catalog.guest_filter import GuestFilter, GuestMatcher, People
from core import defaults
from intel.people import insight_of
from intel.vip import VipRules
from store.models import Guest, GuestProfile, GuestTag
from store.profiles import tagged_emails

SortKey = Literal["name", "email", "company", "status", "registered_at", "checked_in_at"]
SORT_KEYS: tuple[SortKey, ...] = (
    "name",
    "email",
    "company",
    "status",
    "registered_at",
    "checked_in_at",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class BadCursor(ValueError):
    """The cursor was not one we handed out (or was made for another sort)."""


@dataclass(frozen=True)
class GuestSort:
    """The order of a guest list (a bulk job has none); missing times sort last either way."""

    key: SortKey = "name"
    desc: bool = False


@dataclass
class GuestPage:
    guests: list[Guest]
    next_cursor: str | None
    total: int
    prev_cursor: str | None = None


@dataclass(frozen=True)
class GuestQuery:
    """A filter over one event of one org, with the VIPs it needs already scored."""

    org_id: int
    event_id: str
    filter: GuestFilter = field(default_factory=GuestFilter)
    vips: frozenset[str] = frozenset()
    repeat_min_events: int = defaults.REPEAT_MIN_EVENTS

    def statement(self) -> Select[Guest]:
        """The matching guests, unsorted."""
        return select(Guest).where(*self.conditions())

    def conditions(self) -> list[ColumnElement[bool]]:
        wanted = self.filter.compiled
        found: list[ColumnElement[bool]] = [
            Guest.org_id == self.org_id,
            Guest.luma_event_id == self.event_id,
            Guest.gone_at.is_(None),
        ]
        if wanted.statuses:
            found.append(Guest.approval_status.in_(sorted(wanted.statuses)))
        if wanted.domains:
            found.append(Guest.email_domain.in_(sorted(wanted.domains)))
        if wanted.email_keys is not None:
            found.append(Guest.normalized_email.in_(sorted(wanted.email_keys)))
        if wanted.tags:
            found.append(self._tagged(wanted))
        if wanted.vip:
            found.append(Guest.normalized_email.in_(sorted(self.vips)))
        if wanted.repeat:
            found.append(self._repeat())
        if wanted.search:
            pattern = contains_pattern(wanted.search)
            found.append(
                or_(
                    *(
                        func.lower(func.coalesce(column, "")).like(pattern, escape="/")
                        for column in (Guest.name, Guest.email, Guest.company)
                    )
                )
            )
        if wanted.answer is not None:
            label, value = wanted.answer
            answers = Guest.__table__.c.registration_answers
            found.append(_AnswerMatch(answers, label, value) if label else false())
        return found

    def _tagged(self, wanted: GuestMatcher) -> ColumnElement[bool]:
        return exists().where(
            GuestTag.org_id == self.org_id,
            GuestTag.normalized_email == Guest.normalized_email,
            GuestTag.tag.in_(sorted(wanted.tags)),
        )

    def _repeat(self) -> ColumnElement[bool]:
        return exists().where(
            GuestProfile.org_id == self.org_id,
            GuestProfile.normalized_email == Guest.normalized_email,
            GuestProfile.events_registered >= self.repeat_min_events,
        )


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character /) for "contains `text`"."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


class _AnswerMatch(ColumnElement[bool]):
    """Some element of a JSON answer list has a label containing `label` and an answer
    containing `value` (both lowercase needles), compiled per backend below."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads it per class)
        ("answers", InternalTraversal.dp_clauseelement),
        ("label_pattern", InternalTraversal.dp_clauseelement),
        ("value_pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, answers: ColumnElement[Any], label: str, value: str) -> None:
        self.answers = answers
        self.label_pattern = literal(contains_pattern(label))
        self.value_pattern = literal(contains_pattern(value))


@compiles(_AnswerMatch, "postgresql")
def _answer_match_postgresql(element: _AnswerMatch, compiler: Any, **kw: Any) -> str:
    answers = f"CAST({compiler.process(element.answers, **kw)} AS JSON)"
    items = f"CASE WHEN json_typeof({answers}) = 'array' THEN {answers} ELSE '[]'::json END"
    label = compiler.process(element.label_pattern, **kw)
    value = compiler.process(element.value_pattern, **kw)
    return (
        f"EXISTS (SELECT 1 FROM json_array_elements({items}) AS answer_item(item) "
        f"WHERE lower(coalesce(answer_item.item ->> 'label', '')) LIKE {label} ESCAPE '/' "
        f"AND lower(coalesce(answer_item.item ->> 'answer', '')) LIKE {value} ESCAPE '/')"
    )


@compiles(_AnswerMatch, "sqlite")
def _answer_match_sqlite(element: _AnswerMatch, compiler: Any, **kw: Any) -> str:
    answers = compiler.process(element.answers, **kw)
    items = f"CASE WHEN json_type({answers}) = 'array' THEN {answers} ELSE '[]' END"
    item = "CASE WHEN answer_item.type = 'object' THEN answer_item.value END"
    label = compiler.process(element.label_pattern, **kw)
    value = compiler.process(element.value_pattern, **kw)
    return (
        f"EXISTS (SELECT 1 FROM json_each({items}) AS answer_item "
        f"WHERE lower(coalesce(json_extract({item}, '$.label'), '')) LIKE {label} ESCAPE '/' "
        f"AND lower(coalesce(json_extract({item}, '$.answer'), '')) LIKE {value} ESCAPE '/')"
    )


# --- people: tags, VIPs and repeat guests ---------------------------------------------------


async def vip_keys(
    session: AsyncSession,
    *,
    org_id: int,
    emails: Collection[str] | Select[Any],
    rules: VipRules,
) -> frozenset[str]:
    """Which of these people (identity keys, or a select of them) are VIPs, by `intel.vip`.

    The one place VIPs are decided for filtering: the portal's lists and exports score an
    event's people here, the bulk job scores each fresh Luma page here.
    """
    keys = emails if isinstance(emails, Select) else sorted(set(emails))
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
    everyone: list[str] = list(await session.scalars(keys) if isinstance(keys, Select) else keys)
    return frozenset(
        key
        for key in everyone
        if insight_of(key, profiles.get(key), tags.get(key, []), [], rules).vip.is_vip
    )


async def people_for(
    session: AsyncSession,
    *,
    org_id: int,
    guest_filter: GuestFilter,
    emails: Collection[str],
    rules: VipRules,
    tagged: Collection[str] | None = None,
) -> People:
    """What `guest_filter.matches` needs to know about these people (identity keys): only
    the parts the filter uses are read. `tagged`, when given, is the org's tagged people
    already read for this filter (they do not depend on `emails`)."""
    wanted = guest_filter.compiled
    if wanted.tags and tagged is None:
        tagged = await tagged_emails(session, org_id=org_id, tags=wanted.tags)
    repeats: frozenset[str] = frozenset()
    if wanted.repeat and emails:
        repeats = frozenset(
            await session.scalars(
                select(GuestProfile.normalized_email).where(
                    GuestProfile.org_id == org_id,
                    GuestProfile.normalized_email.in_(sorted(set(emails))),
                    GuestProfile.events_registered >= rules.repeat_min_events,
                )
            )
        )
    vips: frozenset[str] = frozenset()
    if wanted.vip and emails:
        vips = await vip_keys(session, org_id=org_id, emails=emails, rules=rules)
    return People(tagged=frozenset(tagged or ()), vips=vips, repeats=repeats)


async def prepare(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    guest_filter: GuestFilter,
    rules: VipRules,
) -> GuestQuery:
    """The filter over one event, ready to run: VIPs scored only when it asks for them
    (a second or so at 50,000 guests: their profiles and tags are read in two queries)."""
    vips: frozenset[str] = frozenset()
    if guest_filter.vip:
        event_keys = (
            select(Guest.normalized_email)
            .where(Guest.org_id == org_id, Guest.luma_event_id == event_id, Guest.gone_at.is_(None))
            .distinct()
        )
        vips = await vip_keys(session, org_id=org_id, emails=event_keys, rules=rules)
    return GuestQuery(org_id, event_id, guest_filter, vips, rules.repeat_min_events)


# --- counting and keyset paging --------------------------------------------------------------


async def count_guests(session: AsyncSession, query: GuestQuery) -> int:
    return await session.scalar(select(func.count()).where(*query.conditions())) or 0


def _sort_column(sort: GuestSort) -> Any:
    if sort.key in ("registered_at", "checked_in_at"):
        # Guests without the time sort last in both directions.
        missing = _EPOCH if sort.desc else _END_OF_TIME
        return func.coalesce(getattr(Guest, sort.key), missing)
    return {
        "name": func.lower(Guest.name),
        "email": Guest.email,
        "company": func.lower(func.coalesce(Guest.company, "")),
        "status": Guest.approval_status,
    }[sort.key]


def cursor_for(sort: GuestSort, value: Any, guest_id: int) -> str:
    """The cursor of the row with this id and sort key (`value`, as the sort compares it)."""
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    data = [sort.key, sort.desc, value, guest_id]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _decode(cursor: str, sort: GuestSort) -> tuple[Any, int]:
    try:
        key, desc, value, guest_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        timed = sort.key in ("registered_at", "checked_in_at")
        if (key, desc) != (sort.key, sort.desc) or isinstance(value, dict) != timed:
            raise ValueError("the cursor belongs to another order")
        if timed:
            value = datetime.fromisoformat(value["t"])
            if value.tzinfo is None:
                raise ValueError("a sort time without its zone")
        elif not isinstance(value, str):
            raise ValueError("not a text sort key")
        if not isinstance(guest_id, int) or not 0 < guest_id < 2**63:
            raise ValueError("not a row id")
        return value, guest_id
    except (ValueError, TypeError, KeyError) as exc:
        raise BadCursor("this page cursor is not valid; start from the first page") from exc


def _ordered(
    query: GuestQuery, sort: GuestSort, cursor: str | None, backward: bool
) -> Select[Guest, Any]:
    """The rows after `cursor` in the sort's order (before it, in reverse, if `backward`)."""
    column = _sort_column(sort)
    descending = sort.desc != backward
    statement = query.statement().add_columns(column.label("sort_key"))
    if cursor:
        value, last_id = _decode(cursor, sort)
        key, mark = tuple_(column, Guest.id), tuple_(literal(value, column.type), last_id)
        statement = statement.where(key < mark if descending else key > mark)
    if descending:
        return statement.order_by(column.desc(), Guest.id.desc())
    return statement.order_by(column.asc(), Guest.id.asc())


async def guest_page(
    session: AsyncSession,
    query: GuestQuery,
    *,
    sort: GuestSort = GuestSort(),
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    only: Sequence[QueryableAttribute[Any]] = (),
) -> GuestPage:
    """One page in a stable order: the rows after `after` (or the ones just before `before`),
    the cursors of the next and previous pages, and how many guests match in all.

    `only`: the columns the caller reads, when not all (the guests' other attributes are then
    not loaded, e.g. their registration answers' JSON, which a busy API page would parse for
    nothing)."""
    total = await count_guests(session, query)
    backward = before is not None and after is None
    statement = _ordered(query, sort, before if backward else after, backward)
    if only:
        statement = statement.options(load_only(*only))
    rows = list((await session.execute(statement.limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    has_next, has_prev = (True, more) if backward else (more, after is not None)
    return GuestPage(
        guests=[guest for guest, _ in rows],
        next_cursor=cursor_for(sort, rows[-1][1], rows[-1][0].id) if rows and has_next else None,
        total=total,
        prev_cursor=cursor_for(sort, rows[0][1], rows[0][0].id) if rows and has_prev else None,
    )


async def guest_batches(
    sessions: Sessions, query: GuestQuery, *, sort: GuestSort = GuestSort(), size: int = 1000
) -> AsyncIterator[Sequence[Guest]]:
    """Every matching guest in order, `size` rows at a time (keyset batches), each batch
    read on a short session of its own, so memory stays flat and no connection is held
    while the consumer (a slow download, a Telegram upload) works."""
    cursor: str | None = None
    while True:
        async with sessions() as session:
            rows = list(
                (await session.execute(_ordered(query, sort, cursor, False).limit(size))).all()
            )
        if not rows:
            return
        yield [guest for guest, _ in rows]
        if len(rows) < size:
            return
        guest, value = rows[-1]
        cursor = cursor_for(sort, value, guest.id)
