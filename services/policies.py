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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intel.approval_policy import MAX_RULES, Action, Decision, Rule
from intel.policy_reads import (
    CALENDAR_WIDE,
    MODES,
    PolicyView,
    decide_in_order,
    policy_for,
    policy_row,
    policy_view,
)
from intel.rubric import RubricReader
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from luma import LumaGuest, LumaPool
from services import audit
from services.automations import Automations
from services.caller import Caller, Invalid, NotFound, Unavailable
from services.linking import org_client
from store.crypto import KeyBox, UnreadableKeyError
from store.models import ApprovalPolicy, Event, Organization, PolicyDecision

EXAMPLES_PER_ACTION = 5
RUBRIC_IN_A_TEST = 40  # guests a dry run sends to Gemini: two calls of the day's quota


@dataclass
class DryRun:
    """What the policy would do to the event's pending guests now; nothing is written."""

    policy: PolicyView
    pending: int = 0
    counts: Counter[Action] = field(default_factory=Counter)
    examples: dict[Action, list[tuple[LumaGuest, Decision]]] = field(default_factory=dict)


async def _own_row(caller: Caller, session: AsyncSession, event_id: str) -> ApprovalPolicy:
    """The event's own policy row, made from the calendar-wide one when it has none yet."""
    caller.require_admin()
    row = await policy_row(session, caller.org_id, event_id)
    if row is not None:
        return row
    calendar = await policy_row(session, caller.org_id, CALENDAR_WIDE)
    row = ApprovalPolicy(
        org_id=caller.org_id,
        luma_event_id=event_id,
        mode=calendar.mode if calendar else "off",
        rules=list(calendar.rules) if calendar else [],
        rubric=calendar.rubric if calendar else None,
        rubric_may_decline=calendar.rubric_may_decline if calendar else False,
        capacity=None,  # seats are the event's own, never the calendar's
        waitlist_order=calendar.waitlist_order if calendar else "registered",
        # The event was under the calendar-wide policy since then: the sync's reach stays.
        on_since=calendar.on_since if calendar and calendar.mode != "off" else None,
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
    return policy_view(row, row.luma_event_id, inherited=False)


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
    # Switched on: the sync hands the policy registrations it missed from now on, never the
    # backlog of older pending guests (those are /policy test and bulk approval's).
    if mode == "off":
        row.on_since = None
    elif row.mode == "off" or row.on_since is None:
        row.on_since = datetime.now(UTC)
    row.mode = mode
    return await _save(caller, session, row, "policy_mode_set", mode)


MAX_RUBRIC = 2_000


async def set_rubric(
    caller: Caller,
    session: AsyncSession,
    *,
    event_id: str,
    rubric: str | None,
    may_decline: bool | None = None,
) -> PolicyView:
    """The plain-language rubric Gemini applies to the guests no rule decides (None or blank:
    none; those guests are held). `may_decline` (None: unchanged) lets the rubric decline;
    off by default, so a rubric alone only approves or holds."""
    text = (rubric or "").strip()
    if len(text) > MAX_RUBRIC:
        raise Invalid(f"A rubric is at most {MAX_RUBRIC:,} characters; this one is {len(text):,}.")
    row = await _own_row(caller, session, event_id)
    row.rubric = text or None
    if may_decline is not None:
        row.rubric_may_decline = may_decline
    detail = f"{len(text)} chars, may decline: {'yes' if row.rubric_may_decline else 'no'}"
    return await _save(caller, session, row, "policy_rubric_set", detail if text else "removed")


async def let_rubric_decline(
    caller: Caller, session: AsyncSession, *, event_id: str, allowed: bool
) -> PolicyView:
    """Whether the rubric may decline guests on its own (the rubric itself unchanged)."""
    row = await _own_row(caller, session, event_id)
    row.rubric_may_decline = allowed
    detail = "may decline" if allowed else "approves or holds only"
    return await _save(caller, session, row, "policy_rubric_declines", detail)


WAITLIST_ORDERS = ("registered", "vip", "off")
MAX_CAPACITY = 1_000_000


async def set_capacity(
    caller: Caller, session: AsyncSession, *, event_id: str, capacity: int | None
) -> PolicyView:
    """The event's seats (None: not set), for "seats left" rules and waitlist promotion:
    Luma's API does not publish an event's capacity, so the organizer tells the policy."""
    if capacity is not None and not 0 <= capacity <= MAX_CAPACITY:
        raise Invalid(f"Capacity is a number of seats from 0 to {MAX_CAPACITY:,}.")
    row = await _own_row(caller, session, event_id)
    row.capacity = capacity
    return await _save(caller, session, row, "policy_capacity_set", str(capacity))


async def set_waitlist_order(
    caller: Caller, session: AsyncSession, *, event_id: str, order: str
) -> PolicyView:
    """Who comes off the waitlist first when a seat frees (auto mode, capacity set):
    registered (first come), vip (highest VIP score first), or off (no promotion)."""
    if order not in WAITLIST_ORDERS:
        raise Invalid(f"The waitlist order is registered, vip or off, not “{order[:20]}”.")
    row = await _own_row(caller, session, event_id)
    row.waitlist_order = order
    return await _save(caller, session, row, "policy_waitlist_set", order)


async def dry_run(
    caller: Caller,
    session: AsyncSession,
    *,
    event: Event,
    luma: LumaPool,
    keybox: KeyBox,
    vip_defaults: VipRules,
    reader: RubricReader | None,
) -> DryRun:
    """Decide every pending guest of `event` as the policy would, writing nothing (VIPs by
    the org's rules, over `vip_defaults`, the settings')."""
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
    decided = await decide_in_order(
        session,
        org_id=caller.org_id,
        event_id=event.luma_event_id,
        policy=policy,
        guests=guests,
        vip_rules=await vip_rules_for(session, org_id=caller.org_id, defaults=vip_defaults),
        reader=reader,
        rubric_limit=RUBRIC_IN_A_TEST,
    )
    result = DryRun(policy, pending=len(guests))
    for guest, decision in decided:
        result.counts[decision.action] += 1
        shown = result.examples.setdefault(decision.action, [])
        if len(shown) < EXAMPLES_PER_ACTION:
            shown.append((guest, decision))
    return result


async def registration_arrived(
    session: AsyncSession, automations: Automations, *, org_id: int, event_id: str, guest_id: str
) -> bool:
    """A new registration for the event's policy, if the policy it follows is on: the
    workflow reads the guest from Luma itself, so a webhook's claims decide nothing."""
    policy = await policy_for(session, org_id=org_id, event_id=event_id)
    if policy.mode == "off":
        return False
    await automations.registration_arrived(org_id, event_id, guest_id)
    return True


async def held_for_review(
    session: AsyncSession, *, org_id: int, event_id: str, limit: int = 500
) -> list[PolicyDecision]:
    """The event's registrations the policy held for a person (hold decisions in either
    mode), oldest first; whether each is still pending is Luma's to say when acted on."""
    held = (PolicyDecision.state == "held") | (
        (PolicyDecision.state == "suggested") & (PolicyDecision.action == Action.HOLD.value)
    )
    rows = await session.scalars(
        select(PolicyDecision)
        .where(PolicyDecision.org_id == org_id, PolicyDecision.luma_event_id == event_id, held)
        .order_by(PolicyDecision.id)
        .limit(limit)
    )
    return list(rows)


async def decision_log(
    session: AsyncSession,
    *,
    org_id: int,
    event_id: str,
    after: int = 0,
    limit: int = 100,
    newest: bool = False,
) -> list[PolicyDecision]:
    """The event's decisions with ids above `after`, oldest first (a feed read page by page),
    or the latest `limit`, newest first (a log on a page)."""
    order = PolicyDecision.id.desc() if newest else PolicyDecision.id
    rows = await session.scalars(
        select(PolicyDecision)
        .where(
            PolicyDecision.org_id == org_id,
            PolicyDecision.luma_event_id == event_id,
            PolicyDecision.id > after,
        )
        .order_by(order)
        .limit(limit)
    )
    return list(rows)


async def apply_standing_order(
    caller: Caller,
    session: AsyncSession,
    *,
    event_id: str,
    rules: Sequence[Rule],
    turn_on: bool,
) -> PolicyView:
    """Add rules asked for in plain words (after the person confirmed them), and switch the
    policy to auto when the words said so ("auto-approve …")."""
    if not rules:
        raise Invalid("There is no rule to add.")
    for rule in rules:
        view = await add_rule(caller, session, event_id=event_id, rule=rule)
    if turn_on and view.mode != "auto":
        view = await set_mode(caller, session, event_id=event_id, mode="auto")
    return view


def promotes(policy: PolicyView) -> bool:
    """Whether freed seats go to the waitlist: auto mode, a capacity, an order."""
    return policy.mode == "auto" and policy.capacity is not None and policy.waitlist_order != "off"


async def seat_may_have_freed(
    session: AsyncSession, automations: Automations, *, org_id: int, event_id: str
) -> bool:
    """A guest of the event changed (or its capacity did): if its policy promotes from the
    waitlist, the workflow counts the seats again from Luma."""
    if not promotes(await policy_for(session, org_id=org_id, event_id=event_id)):
        return False
    await automations.seats_changed(org_id, event_id)
    return True
