"""What an approval policy reads from our database: the policy an event follows, what we
know of its guests' people, and the seats the event has left.

Shared by the use cases (`services.policies`: show, change, dry run) and the workflow's
activities (`activities.policies`), so a dry run and a live decision see the same facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_filter import person_key
from intel.approval_policy import Action, Decision, GuestFacts, Rule, decide
from intel.people import insights_for
from intel.rubric import (
    INJECTION_HOLD,
    NOT_CONFIGURED,
    RubricAnswer,
    RubricCase,
    RubricReader,
    addresses_the_reader,
    case_keys,
    case_of,
    rubric_decision,
)
from intel.vip import VipRules
from luma import LumaGuest
from store import cache
from store.models import ApprovalPolicy, PolicyDecision

Mode = Literal["off", "suggest", "auto"]
MODES: tuple[Mode, ...] = ("off", "suggest", "auto")
CALENDAR_WIDE = ""


@dataclass(frozen=True)
class PolicyView:
    """The policy an event follows: its own, else the calendar-wide one, else none (off)."""

    event_id: str
    rules: list[Rule]
    mode: Mode
    inherited: bool  # the event has none of its own: these are the calendar-wide rules
    rubric: str | None = None
    rubric_may_decline: bool = False  # the rubric may decline (the org turned that on)
    capacity: int | None = None  # seats, as the organizer told the policy (Luma's API has none)
    waitlist_order: str = "registered"  # registered (first come) or vip; off: no promotion
    # When the mode last went from off to on: the sync hands the policy registrations it
    # missed from then on (None: off, or never recorded; the sync hands it none).
    on_since: datetime | None = None


async def policy_row(session: AsyncSession, org_id: int, event_id: str) -> ApprovalPolicy | None:
    return await session.scalar(
        select(ApprovalPolicy).where(
            ApprovalPolicy.org_id == org_id, ApprovalPolicy.luma_event_id == event_id
        )
    )


def policy_view(row: ApprovalPolicy | None, event_id: str, inherited: bool) -> PolicyView:
    if row is None:
        return PolicyView(event_id, [], "off", inherited=False)
    rules = [Rule.model_validate(rule) for rule in row.rules]
    return PolicyView(
        event_id,
        rules,
        cast(Mode, row.mode),
        inherited,
        row.rubric,
        row.rubric_may_decline,
        row.capacity,
        row.waitlist_order,
        on_since=row.on_since,
    )


async def policy_for(session: AsyncSession, *, org_id: int, event_id: str) -> PolicyView:
    """The policy `event_id` follows (CALENDAR_WIDE: the calendar-wide one itself)."""
    own = await policy_row(session, org_id, event_id)
    if own is not None or event_id == CALENDAR_WIDE:
        return policy_view(own, event_id, inherited=False)
    calendar = await policy_row(session, org_id, CALENDAR_WIDE)
    return policy_view(calendar, event_id, inherited=calendar is not None)


async def facts_for(
    session: AsyncSession, *, org_id: int, guests: Sequence[LumaGuest], rules: VipRules
) -> dict[str, GuestFacts]:
    """What the policy knows of each guest's person, by identity key (seats left not set)."""
    keys = {person_key(guest.email) for guest in guests}
    insights = await insights_for(
        session, org_id=org_id, emails=keys, rules=rules, with_notes=False
    )
    return {
        key: GuestFacts(
            tags=frozenset(insight.tags),
            vip_score=insight.vip.score,
            is_vip=insight.vip.is_vip,
            repeat=insight.repeat,
            company=insight.company,
            title=insight.profile.enriched_title if insight.profile else None,
            events_attended=insight.profile.events_attended if insight.profile else 0,
        )
        for key, insight in insights.items()
    }


async def seats_left(
    session: AsyncSession, *, org_id: int, event_id: str, capacity: int | None
) -> int | None:
    """Seats left of `capacity` (None: no capacity set): the cached approved guests and the
    approvals the policy decided but has not written yet both take one."""
    if capacity is None:
        return None
    counts = await cache.count_by_status(session, org_id=org_id, luma_event_id=event_id)
    return max(
        0,
        capacity
        - counts.get("approved", 0)
        - await unwritten_approvals(session, org_id=org_id, event_id=event_id),
    )


async def unwritten_approvals(session: AsyncSession, *, org_id: int, event_id: str) -> int:
    """Approvals the policy decided for the event and has not written to Luma yet."""
    found = await session.scalar(
        select(func.count()).where(
            PolicyDecision.org_id == org_id,
            PolicyDecision.luma_event_id == event_id,
            PolicyDecision.action == "approve",
            PolicyDecision.state.in_(("to_write", "sending")),
        )
    )
    return int(found or 0)


def _with_seats(facts: GuestFacts, seats: int | None) -> GuestFacts:
    return replace(facts, seats_left=seats)


_NEVER = datetime.max.replace(tzinfo=UTC)  # a guest without a registration time comes last


def in_registration_order(guests: Iterable[LumaGuest]) -> list[LumaGuest]:
    """First registered first: the order in which guests are decided and seats fill."""
    return sorted(guests, key=lambda g: (g.registered_at or _NEVER, g.id))


async def decide_in_order(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    policy: PolicyView,
    guests: Iterable[LumaGuest],
    vip_rules: VipRules,
    reader: RubricReader | None,
    rubric_limit: int | None = None,
) -> list[tuple[LumaGuest, Decision]]:
    """Each guest's decision, in registration order, an approval taking a seat from the next
    guest's count: what a dry run shows and what the live policy records. A guest no rule
    decides goes to the rubric, when the policy has one (`reader` None: Gemini is not set
    up, and the rubric holds them). A dry run sends at most `rubric_limit` guests to the
    rubric, so testing a policy spends little of the day's Gemini quota."""
    ordered = in_registration_order(guests)
    facts = await facts_for(session, org_id=org_id, guests=ordered, rules=vip_rules)
    seats = await seats_left(session, org_id=org_id, event_id=event_id, capacity=policy.capacity)

    def known(guest: LumaGuest) -> GuestFacts:
        return _with_seats(facts.get(person_key(guest.email), GuestFacts()), seats)

    # Seats only go down as guests are decided, so a guest no rule decides now is among
    # these: the rubric is read for all of them at once, before the seats are handed out.
    undecided = [
        guest for guest in ordered if decide(policy.rules, guest, known(guest)).rule is None
    ]
    cases, answer = await _read_rubric(org_id, policy, undecided, known, reader, rubric_limit)
    decided = []
    for guest in ordered:
        decision = decide(policy.rules, guest, known(guest))
        if decision.rule is None and guest.id in cases:
            key = cases[guest.id].key
            decision = rubric_decision(
                answer.verdicts.get(key),
                may_decline=policy.rubric_may_decline,
                seats_left=seats,
                why_none=answer.missing.get(key),
            )
        if decision.action is Action.APPROVE and seats is not None:
            seats = max(0, seats - 1)
        decided.append((guest, decision))
    return decided


async def _read_rubric(
    org_id: int,
    policy: PolicyView,
    guests: list[LumaGuest],
    known: Callable[[LumaGuest], GuestFacts],
    reader: RubricReader | None,
    limit: int | None,
) -> tuple[dict[str, RubricCase], RubricAnswer]:
    """The rubric's verdicts on `guests` (none when the policy has no rubric), the first
    `limit` of them (None: all)."""
    if not policy.rubric or not guests:
        return {}, RubricAnswer()
    keys = case_keys(len(guests))
    cases = {
        guest.id: case_of(key, guest, known(guest)) for key, guest in zip(keys, guests, strict=True)
    }
    screened = [case for case in cases.values() if not addresses_the_reader(case)]
    missing = {case.key: INJECTION_HOLD for case in cases.values() if case not in screened}
    if limit is not None and len(screened) > limit:
        not_judged = f"not judged in a test (only the first {limit} go to Gemini)"
        missing |= {case.key: not_judged for case in screened[limit:]}
        screened = screened[:limit]
    if reader is None:
        return cases, RubricAnswer({}, {case.key: NOT_CONFIGURED for case in screened} | missing)
    answer = RubricAnswer()
    if screened:
        answer = await reader.judge(
            org_id=org_id,
            rubric=policy.rubric,
            cases=screened,
            may_decline=policy.rubric_may_decline,
        )
    return cases, RubricAnswer(answer.verdicts, answer.missing | missing)
