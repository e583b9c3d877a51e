"""Approval policies: read, change and dry-run an event's ordered rules.

The bot's `/policy` commands and the control API's policy routes come here, so the same
rules hold whichever interface writes: admins only, at most `MAX_RULES` rules, one audit row
per change. An event without a policy of its own follows the calendar-wide one (event id
""); its first own change starts from a copy of the calendar-wide rules, so customizing one
event never silently drops the rules it was following.

The dry run reads the event's pending guests fresh from Luma (what a live policy would see)
and decides each in registration order, so a "seats left" rule sees the seats the earlier
approvals would take. Nothing is written to Luma.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.guest_filter import person_key
from intel.approval_policy import MAX_RULES, Action, Decision, GuestFacts, Rule, decide
from intel.people import insights_for
from intel.vip import VipRules
from luma import LumaGuest, LumaPool
from services import audit
from services.caller import Caller, Invalid, NotFound, Unavailable
from services.linking import org_client
from store import cache
from store.crypto import KeyBox, UnreadableKeyError
from store.models import ApprovalPolicy, Event, Organization

Mode = Literal["off", "suggest", "auto"]
MODES: tuple[Mode, ...] = ("off", "suggest", "auto")
CALENDAR_WIDE = ""
EXAMPLES_PER_ACTION = 5
_NEVER = datetime.max.replace(tzinfo=UTC)  # a guest without a registration time sorts last


@dataclass(frozen=True)
class PolicyView:
    """The policy an event follows: its own, else the calendar-wide one, else none (off)."""

    event_id: str
    rules: list[Rule]
    mode: Mode
    inherited: bool  # the event has none of its own: these are the calendar-wide rules
    rubric: str | None = None


@dataclass
class DryRun:
    """What the policy would do to the event's pending guests now; nothing is written."""

    policy: PolicyView
    pending: int = 0
    counts: Counter[Action] = field(default_factory=Counter)
    examples: dict[Action, list[tuple[LumaGuest, Decision]]] = field(default_factory=dict)


async def _row(session: AsyncSession, org_id: int, event_id: str) -> ApprovalPolicy | None:
    return await session.scalar(
        select(ApprovalPolicy).where(
            ApprovalPolicy.org_id == org_id, ApprovalPolicy.luma_event_id == event_id
        )
    )


def _view(row: ApprovalPolicy | None, event_id: str, inherited: bool) -> PolicyView:
    if row is None:
        return PolicyView(event_id, [], "off", inherited=False)
    rules = [Rule.model_validate(rule) for rule in row.rules]
    return PolicyView(event_id, rules, cast(Mode, row.mode), inherited, row.rubric)


async def policy_for(session: AsyncSession, *, org_id: int, event_id: str) -> PolicyView:
    """The policy `event_id` follows (CALENDAR_WIDE: the calendar-wide one itself)."""
    own = await _row(session, org_id, event_id)
    if own is not None or event_id == CALENDAR_WIDE:
        return _view(own, event_id, inherited=False)
    calendar = await _row(session, org_id, CALENDAR_WIDE)
    return _view(calendar, event_id, inherited=calendar is not None)


async def _own_row(caller: Caller, session: AsyncSession, event_id: str) -> ApprovalPolicy:
    """The event's own policy row, made from the calendar-wide one when it has none yet."""
    caller.require_admin()
    row = await _row(session, caller.org_id, event_id)
    if row is not None:
        return row
    calendar = await _row(session, caller.org_id, CALENDAR_WIDE)
    row = ApprovalPolicy(
        org_id=caller.org_id,
        luma_event_id=event_id,
        mode=calendar.mode if calendar else "off",
        rules=list(calendar.rules) if calendar else [],
        rubric=calendar.rubric if calendar else None,
        rubric_may_decline=calendar.rubric_may_decline if calendar else False,
    )
    session.add(row)
    return row


async def _save(
    caller: Caller, session: AsyncSession, row: ApprovalPolicy, action: str, detail: str
) -> PolicyView:
    row.updated_by = caller.user_id
    row.updated_at = datetime.now(UTC)
    await session.flush()
    target = {"event_id": row.luma_event_id or "calendar", "rules": len(row.rules)}
    await audit.record(caller, session, action, target | {"mode": row.mode}, detail=detail)
    return _view(row, row.luma_event_id, inherited=False)


def _checked(rules: Sequence[Rule]) -> list[Rule]:
    if len(rules) > MAX_RULES:
        raise Invalid(f"A policy holds at most {MAX_RULES} rules; remove some first.")
    return list(rules)


async def add_rule(
    caller: Caller,
    session: AsyncSession,
    *,
    event_id: str,
    rule: Rule,
    position: int | None = None,
) -> PolicyView:
    """Add `rule` at `position` (1-based; default: last, where it decides what no earlier
    rule did)."""
    row = await _own_row(caller, session, event_id)
    rules = [Rule.model_validate(r) for r in row.rules]
    at = len(rules) if position is None else max(0, min(position - 1, len(rules)))
    rules.insert(at, rule)
    row.rules = [r.model_dump(mode="json") for r in _checked(rules)]
    return await _save(caller, session, row, "policy_rule_added", f"{at + 1}: {rule.describe()}")


async def remove_rule(
    caller: Caller, session: AsyncSession, *, event_id: str, number: int
) -> tuple[Rule, PolicyView]:
    """Remove rule `number` (1-based, as the policy lists them)."""
    row = await _own_row(caller, session, event_id)
    rules = [Rule.model_validate(r) for r in row.rules]
    if not 1 <= number <= len(rules):
        have = f"rules 1 to {len(rules)}" if rules else "no rules"
        raise Invalid(f"There is no rule {number}: this policy has {have}.")
    removed = rules.pop(number - 1)
    row.rules = [r.model_dump(mode="json") for r in rules]
    view = await _save(
        caller, session, row, "policy_rule_removed", f"{number}: {removed.describe()}"
    )
    return removed, view


async def set_rules(
    caller: Caller, session: AsyncSession, *, event_id: str, rules: Sequence[Rule]
) -> PolicyView:
    """Replace the whole ordered list (the API's PUT)."""
    row = await _own_row(caller, session, event_id)
    row.rules = [r.model_dump(mode="json") for r in _checked(rules)]
    return await _save(caller, session, row, "policy_rules_set", f"{len(row.rules)} rules")


async def set_mode(
    caller: Caller, session: AsyncSession, *, event_id: str, mode: str
) -> PolicyView:
    """off, suggest (decisions shown, nothing written) or auto (decisions written)."""
    if mode not in MODES:
        raise Invalid(f"The mode is one of off, suggest or auto, not “{mode[:20]}”.")
    row = await _own_row(caller, session, event_id)
    row.mode = mode
    return await _save(caller, session, row, "policy_mode_set", mode)


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
        )
        for key, insight in insights.items()
    }


async def seats_left(session: AsyncSession, *, org_id: int, event: Event) -> int | None:
    """Seats the event has left by its cached guest list (None: no capacity set)."""
    if event.capacity is None:
        return None
    counts = await cache.count_by_status(session, org_id=org_id, luma_event_id=event.luma_event_id)
    return max(0, event.capacity - counts.get("approved", 0))


async def dry_run(
    caller: Caller,
    session: AsyncSession,
    *,
    event: Event,
    luma: LumaPool,
    keybox: KeyBox,
    vip_rules: VipRules,
) -> DryRun:
    """Decide every pending guest of `event` as the policy would, writing nothing."""
    policy = await policy_for(session, org_id=caller.org_id, event_id=event.luma_event_id)
    org = await session.get(Organization, caller.org_id)
    if org is None:
        raise NotFound("This calendar is no longer linked.")
    try:
        key = keybox.decrypt(org.key_ciphertext)
    except UnreadableKeyError as exc:
        raise Unavailable(str(exc)) from None
    client = org_client(luma, org, key)
    guests = [
        guest async for guest in client.iter_guests(event.luma_event_id, status="pending_approval")
    ]
    guests.sort(key=lambda g: (g.registered_at or _NEVER, g.id))  # registration order
    facts = await facts_for(session, org_id=caller.org_id, guests=guests, rules=vip_rules)
    seats = await seats_left(session, org_id=caller.org_id, event=event)
    result = DryRun(policy, pending=len(guests))
    for guest in guests:
        known = facts.get(person_key(guest.email), GuestFacts())
        decision = decide(policy.rules, guest, _with_seats(known, seats))
        if decision.action is Action.APPROVE and seats is not None:
            seats = max(0, seats - 1)
        result.counts[decision.action] += 1
        shown = result.examples.setdefault(decision.action, [])
        if len(shown) < EXAMPLES_PER_ACTION:
            shown.append((guest, decision))
    return result


def _with_seats(facts: GuestFacts, seats: int | None) -> GuestFacts:
    return GuestFacts(facts.tags, facts.vip_score, facts.is_vip, facts.repeat, seats)
