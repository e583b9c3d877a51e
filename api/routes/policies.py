"""An event's approval policy: its ordered rules, its rubric, its mode, a dry run and the
decisions it made (`services.policies`).

The rules are `intel.approval_policy.Rule` as they are stored: the same JSON the bot's
`/policy add` writes. Changes are for admins' tokens (every token is an admin's) and audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StrictBool, StrictInt

from api.deps import CurrentCaller, DepsDep, OrgEvent, SessionDep
from intel.approval_policy import MAX_RULES, Action, Rule
from intel.policy_reads import Mode
from services import policies
from web.deps import WebDeps, get_web

router = APIRouter(prefix="/v1/events/{event_id}/policy", tags=["approval policies"])
WebDep = Annotated[WebDeps, Depends(get_web)]  # the process's Luma pool and key box


class PolicyPublic(BaseModel):
    event_id: str
    mode: Mode = Field(description="off, suggest (shown, not written) or auto")
    inherited: bool = Field(description="the event follows the calendar-wide policy")
    rules: list[Rule] = Field(description="in order: the first matching rule decides")
    described: list[str] = Field(description="each rule in plain words")
    capacity: int | None = Field(description="the event's seats, as told to the policy")
    waitlist_order: str = Field(description="registered, vip or off: who fills a freed seat")
    rubric: str | None = Field(description="plain words Gemini applies to guests no rule decides")
    rubric_may_decline: bool = Field(description="the rubric may decline (else approve or hold)")


class RulesUpdate(BaseModel):
    rules: list[Rule] = Field(max_length=MAX_RULES)


class ModeUpdate(BaseModel):
    mode: Mode


class CapacityUpdate(BaseModel):
    capacity: StrictInt | None = Field(ge=0, le=policies.MAX_CAPACITY, description="null: not set")


class WaitlistUpdate(BaseModel):
    order: Literal["registered", "vip", "off"]


class RubricUpdate(BaseModel):
    rubric: str | None = Field(
        max_length=policies.MAX_RUBRIC, description="null or blank: no rubric (holds instead)"
    )
    may_decline: StrictBool | None = Field(None, description="null: unchanged; off by default")


class LoggedDecision(BaseModel):
    id: int = Field(description="increasing: pass the last one as `after` for the next page")
    guest_id: str
    email: str
    name: str
    action: Action
    reason: str
    mode: Mode
    state: str = Field(description="to_write, sending, written, held, suggested, skipped, failed")
    detail: str
    decided_at: datetime
    finished_at: datetime | None


class DecisionFeed(BaseModel):
    decisions: list[LoggedDecision]
    next_after: int | None = Field(description="`after` for the next page; null: none yet")


class DecisionPublic(BaseModel):
    guest_id: str
    email: str
    name: str | None
    action: Action
    reason: str


class DryRunPublic(BaseModel):
    pending: int = Field(description="pending guests read from Luma just now")
    counts: dict[Action, int]
    examples: list[DecisionPublic] = Field(description="a few guests per action")
    written: int = Field(0, description="always 0: a dry run writes nothing")


def _public(view: policies.PolicyView) -> PolicyPublic:
    return PolicyPublic(
        event_id=view.event_id,
        mode=view.mode,
        inherited=view.inherited,
        rules=view.rules,
        described=[rule.describe() for rule in view.rules],
        capacity=view.capacity,
        waitlist_order=view.waitlist_order,
        rubric=view.rubric,
        rubric_may_decline=view.rubric_may_decline,
    )


@router.get("", summary="The approval policy an event follows")
async def get_policy(caller: CurrentCaller, event: OrgEvent, session: SessionDep) -> PolicyPublic:
    view = await policies.policy_for(session, org_id=caller.org_id, event_id=event.luma_event_id)
    return _public(view)


@router.put("/rules", summary="Replace the event's ordered rules")
async def put_rules(
    caller: CurrentCaller, event: OrgEvent, deps: DepsDep, body: RulesUpdate
) -> PolicyPublic:
    async with deps.sessions.begin() as session:
        view = await policies.set_rules(
            caller, session, event_id=event.luma_event_id, rules=body.rules
        )
    return _public(view)


@router.put("/mode", summary="Turn the event's policy off, to suggest, or to auto")
async def put_mode(
    caller: CurrentCaller, event: OrgEvent, deps: DepsDep, body: ModeUpdate
) -> PolicyPublic:
    async with deps.sessions.begin() as session:
        view = await policies.set_mode(
            caller, session, event_id=event.luma_event_id, mode=body.mode
        )
    return _public(view)


@router.put("/capacity", summary="The event's seats (Luma's API does not publish them)")
async def put_capacity(
    caller: CurrentCaller, event: OrgEvent, deps: DepsDep, body: CapacityUpdate
) -> PolicyPublic:
    """With the policy in auto mode, seats that are free now go to the waitlist."""
    async with deps.sessions.begin() as session:
        view = await policies.set_capacity(
            caller, session, event_id=event.luma_event_id, capacity=body.capacity
        )
    async with deps.sessions() as session:
        await policies.seat_may_have_freed(
            session, deps.automations, org_id=caller.org_id, event_id=event.luma_event_id
        )
    return _public(view)


@router.put("/waitlist", summary="Who comes off the waitlist first when a seat frees")
async def put_waitlist(
    caller: CurrentCaller, event: OrgEvent, deps: DepsDep, body: WaitlistUpdate
) -> PolicyPublic:
    async with deps.sessions.begin() as session:
        view = await policies.set_waitlist_order(
            caller, session, event_id=event.luma_event_id, order=body.order
        )
    return _public(view)


@router.post("/dry-run", summary="What the policy would do to the pending guests now")
async def dry_run(
    caller: CurrentCaller, event: OrgEvent, session: SessionDep, deps: DepsDep, web: WebDep
) -> DryRunPublic:
    """Reads the event's pending guests from Luma and decides each; writes nothing."""
    run = await policies.dry_run(
        caller,
        session,
        event=event,
        luma=web.luma,
        keybox=web.keybox,
        vip_defaults=deps.vip_rules,
        reader=deps.rubric,
    )
    examples = [
        DecisionPublic(
            guest_id=guest.id,
            email=guest.email,
            name=guest.name,
            action=decision.action,
            reason=decision.reason,
        )
        for shown in run.examples.values()
        for guest, decision in shown
    ]
    return DryRunPublic(pending=run.pending, counts=dict(run.counts), examples=examples)


@router.put("/rubric", summary="The plain-language rubric for guests no rule decides")
async def put_rubric(
    caller: CurrentCaller, event: OrgEvent, deps: DepsDep, body: RubricUpdate
) -> PolicyPublic:
    """Gemini reads each such guest's answers and profile and approves or holds them (declines
    only with `may_decline`); without Gemini, the rubric holds them and says why."""
    async with deps.sessions.begin() as session:
        view = await policies.set_rubric(
            caller,
            session,
            event_id=event.luma_event_id,
            rubric=body.rubric,
            may_decline=body.may_decline,
        )
    return _public(view)


@router.get("/decisions", summary="The policy's decisions, oldest first, page by page")
async def decisions(
    caller: CurrentCaller,
    event: OrgEvent,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DecisionFeed:
    rows = await policies.decision_log(
        session, org_id=caller.org_id, event_id=event.luma_event_id, after=after, limit=limit
    )
    logged = [
        LoggedDecision(
            id=row.id,
            guest_id=row.luma_guest_id,
            email=row.email,
            name=row.name,
            action=Action(row.action),
            reason=row.reason,
            mode=cast(Mode, row.mode),
            state=row.state,
            detail=row.detail,
            decided_at=row.decided_at,
            finished_at=row.finished_at,
        )
        for row in rows
    ]
    return DecisionFeed(decisions=logged, next_after=rows[-1].id if rows else None)
