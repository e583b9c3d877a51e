"""Drill: the worker running an event's approval policy is SIGKILLed while it writes the
decisions; a fresh worker finishes them, and nothing is lost or written twice.

Luma answers slowly, so the batch's writes are spread over seconds and the kill finds some
landed and some not (and maybe one sent whose answer the dead worker never recorded).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from intel.approval_policy import Action, Rule
from services import policies
from services.caller import Caller
from store.models import PolicyDecision, Role
from tests.conftest import eventually
from tests.drills.support import JOB_TIMEOUT, Workers

APPROVED = 45
HELD = 15
FINISHED = ("written", "held")
# The policy workflow's write activity heartbeats with a 2-minute timeout of its own (not the
# drill's short one): a dead worker's writes move to the fresh worker only after it expires.
TAKEOVER_TIMEOUT = JOB_TIMEOUT + 120.0


async def policy_rows(sessions, org_id: int, event_id: str) -> list[PolicyDecision]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(PolicyDecision).where(
                    PolicyDecision.org_id == org_id, PolicyDecision.luma_event_id == event_id
                )
            )
        )


async def test_a_fresh_worker_finishes_a_policy_batch_whose_worker_was_killed(
    automations, simulator, org, workers: Workers, env_for, sessions, record_property
) -> None:
    state = simulator.state
    event_id = state.add_event(org.calendar_id, name="Killed Mid-way", guests=0)
    admin = Caller(org.org_id, Role.ADMIN, "api", 1)
    async with sessions.begin() as session:
        rule = Rule(action=Action.APPROVE, domains=["acme.com"])
        await policies.set_rules(admin, session, event_id=event_id, rules=[rule])
        await policies.set_mode(admin, session, event_id=event_id, mode="auto")

    state.configure(latency_seconds=0.3)  # a write (a read, then the write) takes ~0.6 s
    env = env_for(simulator)
    first = workers.start(env)
    await workers.ready(first)

    approved = [f"approve{n:02d}@acme.com" for n in range(APPROVED)]
    held = [f"hold{n:02d}@elsewhere.example" for n in range(HELD)]
    calendar, event = state.calendar(org.calendar_id), state.event(event_id)
    state.add_guests(calendar, event, [(e, None) for e in approved + held],
                     status="pending_approval", path="test")  # fmt: skip
    for email in approved + held:
        await automations.registration_arrived(org.org_id, event_id, event.by_email[email].id)

    def writes() -> list[str]:
        return [
            w.email
            for w in state.writes
            if w.event_id == event_id and w.endpoint == "update-guest-status"
        ]

    try:
        await eventually(lambda: len(writes()) >= 8, timeout=120, interval=0.02)
    except AssertionError:
        raise AssertionError(f"{len(writes())} writes: no progress\n{workers.logs()}") from None
    await workers.kill(first)
    at_kill = len(writes())
    assert at_kill < APPROVED, "the batch was written before the kill"
    record_property("writes_before_kill", at_kill)

    second = workers.start(env)
    await workers.ready(second)

    async def all_finished() -> bool:
        rows = await policy_rows(sessions, org.org_id, event_id)
        return len(rows) == APPROVED + HELD and all(row.state in FINISHED for row in rows)

    try:
        await eventually(all_finished, timeout=TAKEOVER_TIMEOUT, interval=0.5)
    except AssertionError:
        rows = await policy_rows(sessions, org.org_id, event_id)
        states = Counter(row.state for row in rows)
        raise AssertionError(f"{len(rows)} decisions, {dict(states)}\n{workers.logs()}") from None

    by_email = {row.email: row for row in await policy_rows(sessions, org.org_id, event_id)}
    assert {e: (r.action, r.state) for e, r in by_email.items()} == {
        **{e: ("approve", "written") for e in approved},
        **{e: ("hold", "held") for e in held},
    }
    assert not [r for r in by_email.values() if r.state in ("to_write", "sending")]
    assert Counter(writes()) == Counter(dict.fromkeys(approved, 1))
    statuses = {e: event.by_email[e].approval_status for e in approved + held}
    assert statuses == {
        **dict.fromkeys(approved, "approved"),
        **dict.fromkeys(held, "pending_approval"),
    }
    record_property("read_back", state.counters["op:guest"])
    assert await workers.stop(second) == 0, "unclean shutdown on SIGTERM:\n" + workers.logs()
