"""An event's approval policy in the portal: its rules, mode, seats and rubric, a dry run on
the pending guests (read fresh from Luma, nothing written), and the log of what it decided.

Admins edit the policy here; every change is a `services.policies` use case (admin rights,
the rule limit and the audit row are its rules, as for the bot's `/policy` and the API). A
rule is written in the same words the bot takes (`intel.policy_text`). Forms that name a rule
by its number also carry the rule as the page showed it, so a policy changed in the meantime
(another admin, the bot) is not edited by a stale number.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ApiDeps
from intel.approval_policy import Rule
from intel.policy_text import EXAMPLES, RuleTextError, parse_rule
from services import policies
from services.policies import MAX_RUBRIC, WAITLIST_ORDERS
from store.models import Event
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Reader, WebDep, WebDeps
from web.errors import WebError
from web.render import page, see_other
from web.routes.guests import EventId, org_event

router = APIRouter(prefix="/events/{event_id}")
LOGGED = 100
MAX_RULE_TEXT = 1_000
CHANGED = (
    "This policy changed since the page was loaded (another admin, the bot or the API), so "
    "nothing was changed. Reload the page and try again."
)


def _url(event_id: str, saved: str = "") -> str:
    return f"/web/events/{event_id}/policy" + (f"?saved={saved}" if saved else "")


async def _policy_page(
    request: Request,
    session: AsyncSession,
    viewer: Viewer,
    deps: ApiDeps,
    web: WebDeps,
    event: Event,
    *,
    test: bool = False,
    rule_text: str = "",
    rule_error: str | None = None,
    status: int = 200,
) -> object:
    view = await policies.policy_for(session, org_id=viewer.org_id, event_id=event.luma_event_id)
    decisions = await policies.decision_log(
        session, org_id=viewer.org_id, event_id=event.luma_event_id, limit=LOGGED, newest=True
    )
    run = None
    if test:
        run = await policies.dry_run(
            caller_of(viewer),
            session,
            event=event,
            luma=web.luma,
            keybox=web.keybox,
            vip_defaults=deps.vip_rules,
            reader=deps.rubric,
        )
    return await page(
        request,
        session,
        viewer,
        "policy.html",
        status=status,
        event=event,
        view=view,
        decisions=decisions,
        run=run,
        examples=EXAMPLES.splitlines(),
        rule_text=rule_text,
        rule_error=rule_error,
        waitlist_orders=WAITLIST_ORDERS,
        max_rubric=MAX_RUBRIC,
        max_rule_text=MAX_RULE_TEXT,
        nav="events",
    )


@router.get("/policy")
async def policy_page(
    request: Request,
    event_id: EventId,
    viewer: Reader,
    deps: Api,
    web: WebDep,
    test: Annotated[bool, Query()] = False,
) -> object:
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        return await _policy_page(request, session, viewer, deps, web, event, test=test)


@router.post("/policy/rules/add")
async def add_rule(
    request: Request,
    event_id: EventId,
    viewer: Admin,
    deps: Api,
    web: WebDep,
    rule: Annotated[str, Form(max_length=MAX_RULE_TEXT)] = "",
) -> object:
    """A rule in the bot's words, added last. Words that make no rule show the page again
    with the parser's sentence and the text as typed; nothing is changed."""
    try:
        parsed = parse_rule(rule)
    except RuleTextError as exc:
        async with deps.sessions() as session:
            event = await org_event(session, viewer.org_id, event_id)
            return await _policy_page(
                request,
                session,
                viewer,
                deps,
                web,
                event,
                rule_text=rule,
                rule_error=str(exc),
                status=422,
            )
    async with deps.sessions.begin() as session:
        await org_event(session, viewer.org_id, event_id)
        await policies.add_rule(caller_of(viewer), session, event_id=event_id, rule=parsed)
    return see_other(_url(event_id, "rule-added"))


def _number(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 3:
        raise WebError(400, "No such rule", "Choose a rule from the list, then try again.")
    return int(raw)


async def _current_rules(session: AsyncSession, viewer: Viewer, event_id: str) -> list[Rule]:
    """The rules the event follows now (the calendar-wide ones while it has none)."""
    view = await policies.policy_for(session, org_id=viewer.org_id, event_id=event_id)
    return list(view.rules)


def _the_rule(rules: list[Rule], number: int, shown: str) -> None:
    """The rule the page showed as `number` is still there, in that place."""
    if not 1 <= number <= len(rules) or rules[number - 1].describe() != shown:
        raise WebError(409, "The policy changed", CHANGED)


@router.post("/policy/rules/remove")
async def remove_rule(
    event_id: EventId,
    viewer: Admin,
    deps: Api,
    number: Annotated[str, Form(max_length=8)] = "",
    shown: Annotated[str, Form(max_length=4_000)] = "",
) -> object:
    at = _number(number)
    async with deps.sessions.begin() as session:
        await org_event(session, viewer.org_id, event_id)
        _the_rule(await _current_rules(session, viewer, event_id), at, shown)
        await policies.remove_rule(caller_of(viewer), session, event_id=event_id, number=at)
    return see_other(_url(event_id, "rule-removed"))


@router.post("/policy/rules/move")
async def move_rule(
    event_id: EventId,
    viewer: Admin,
    deps: Api,
    number: Annotated[str, Form(max_length=8)] = "",
    shown: Annotated[str, Form(max_length=4_000)] = "",
    direction: Annotated[Literal["up", "down"], Form()] = "up",
) -> object:
    """Swap a rule with its neighbour: the order decides, the first matching rule wins."""
    at = _number(number)
    async with deps.sessions.begin() as session:
        await org_event(session, viewer.org_id, event_id)
        rules = await _current_rules(session, viewer, event_id)
        _the_rule(rules, at, shown)
        other = at - 1 if direction == "up" else at + 1
        if not 1 <= other <= len(rules):
            raise WebError(400, "Cannot move it", f"Rule {at} is already {direction}most.")
        rules[at - 1], rules[other - 1] = rules[other - 1], rules[at - 1]
        await policies.set_rules(caller_of(viewer), session, event_id=event_id, rules=rules)
    return see_other(_url(event_id, "rules-moved"))


@router.post("/policy/mode")
async def set_mode(
    event_id: EventId,
    viewer: Admin,
    deps: Api,
    mode: Annotated[str, Form(max_length=16)] = "",
) -> object:
    async with deps.sessions.begin() as session:
        await org_event(session, viewer.org_id, event_id)
        await policies.set_mode(caller_of(viewer), session, event_id=event_id, mode=mode)
    return see_other(_url(event_id, "mode"))


def _capacity(raw: str) -> int | None:
    """Empty: no capacity set; else a whole number of seats (its range is the service's)."""
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise WebError(
            400,
            "Check the capacity",
            "The capacity is a whole number of seats; leave it empty for no capacity.",
        )
    return int(text)


@router.post("/policy/seats")
async def set_seats(
    event_id: EventId,
    viewer: Admin,
    deps: Api,
    capacity: Annotated[str, Form(max_length=16)] = "",
    waitlist_order: Annotated[str, Form(max_length=16)] = "registered",
) -> object:
    """Capacity and waitlist order, each written (and audited) only when it changed."""
    seats = _capacity(capacity)
    caller = caller_of(viewer)
    async with deps.sessions.begin() as session:
        await org_event(session, viewer.org_id, event_id)
        view = await policies.policy_for(session, org_id=viewer.org_id, event_id=event_id)
        if seats != view.capacity:
            await policies.set_capacity(caller, session, event_id=event_id, capacity=seats)
        if waitlist_order != view.waitlist_order:
            await policies.set_waitlist_order(
                caller, session, event_id=event_id, order=waitlist_order
            )
    async with deps.sessions() as session:  # seats that are free now go to the waitlist
        await policies.seat_may_have_freed(
            session, deps.automations, org_id=viewer.org_id, event_id=event_id
        )
    return see_other(_url(event_id, "seats"))


@router.post("/policy/rubric")
async def set_rubric(
    event_id: EventId,
    viewer: Admin,
    deps: Api,
    rubric: Annotated[str, Form(max_length=4 * MAX_RUBRIC)] = "",
    may_decline: Annotated[str, Form(max_length=4)] = "",
) -> object:
    """The rubric for the guests no rule decides (empty: none); it declines only when the
    box is ticked. Over its length the service refuses and nothing is saved."""
    async with deps.sessions.begin() as session:
        await org_event(session, viewer.org_id, event_id)
        await policies.set_rubric(
            caller_of(viewer),
            session,
            event_id=event_id,
            rubric=rubric,
            may_decline=may_decline == "on",
        )
    return see_other(_url(event_id, "rubric"))
