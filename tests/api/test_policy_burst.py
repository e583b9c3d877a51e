"""A burst of 200 registrations through signed webhooks is decided within the rate budget
with no guest written twice.

The org registers its webhook with Luma (the simulator) as linking does, so it holds a
signing secret; the simulator's own endpoint is then paused and the test posts the 200
`guest.registered` deliveries itself, each signed with that secret, concurrently."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from luma import BudgetPolicy, LumaPool
from services import luma_webhooks
from services.linking import org_client
from standins.luma.webhooks import guest_payload, signed_headers
from store.models import Organization
from store.rate_budget import DatabaseRateBudget
from tests.api.conftest import synced_event
from tests.api.test_policy_runs import decisions, register, status_writes
from tests.api.test_webhooks import webhook_url
from tests.conftest import eventually

GUESTS = 200
CHUNK = 25  # deliveries in flight at once
DONE = ("written", "held", "suggested", "skipped", "failed")
# The rate budget: Luma's 200 requests per window on the calendar key, with the window
# shortened from a minute to 10 s so the run takes seconds, not minutes. The simulator of the
# API fixtures has no limit; this test gives it this one, and the worker's Luma budget the
# same (`pool` below). The burst costs ~670 requests (200 refresh reads, 200 policy reads, a
# read and a write per written decision, the sync), over three windows' worth: the client
# must pace itself, and a single 429 means it overran the budget.
RATE_LIMIT = 200
RATE_WINDOW = 10.0


@pytest.fixture
async def pool(simulator, sessions) -> AsyncIterator[LumaPool]:
    """The worker's Luma pool, its shared budget set to the simulator's limit and window."""
    budget = DatabaseRateBudget(sessions, BudgetPolicy.scaled(RATE_LIMIT, RATE_WINDOW))
    async with LumaPool(simulator.base_url, budget=budget, timeout=5, backoff_base=0.05) as luma:
        yield luma


def domain_of(index: int) -> str:
    return ("acme.com", "wait.example", "elsewhere.example")[index % 3]


EXPECTED = {"acme.com": "approve", "wait.example": "waitlist", "elsewhere.example": "hold"}


async def signing_secret(sessions, keybox, pool, simulator, org_id: int) -> str:
    """Register the org's webhook with Luma as linking does and keep its secret; the
    simulator's endpoint is paused so that only the test's deliveries arrive."""
    async with sessions.begin() as session:
        org = await session.get(Organization, org_id)
        assert org is not None
        client = org_client(pool, org, keybox.decrypt(org.key_ciphertext))
        registered = await luma_webhooks.register(
            session, org, client, keybox=keybox, public_url="http://api.test"
        )
        assert registered.status == luma_webhooks.ACTIVE
        secret = luma_webhooks.webhook_secret(org, keybox)
    [hook] = [h for h in simulator.state.webhooks.values() if h.id == org.luma_webhook_id]
    assert secret is not None and secret == hook.secret
    hook.status = "paused"
    return secret


async def test_a_burst_of_signed_registrations_is_decided_once_within_the_rate_budget(
    tenant, anonymous, simulator, automations, sessions, keybox, pool, record_property
) -> None:
    org = tenant.org
    state = simulator.state
    state.configure(
        rate_limit=RATE_LIMIT, rate_window_seconds=RATE_WINDOW, rate_block_seconds=RATE_WINDOW
    )
    event_id = await synced_event(simulator, automations, org, name="Launch Party", guests=0)
    base = f"/v1/events/{event_id}/policy"
    rules = [
        {"action": "approve", "domains": ["acme.com"]},
        {"action": "waitlist", "domains": ["wait.example"]},
    ]
    assert (await tenant.client.put(f"{base}/rules", json={"rules": rules})).status_code == 200
    assert (await tenant.client.put(f"{base}/mode", json={"mode": "auto"})).status_code == 200
    secret = await signing_secret(sessions, keybox, pool, simulator, org.org_id)
    url = await webhook_url(sessions, org.org_id)

    emails = [f"guest{n:03d}@{domain_of(n)}" for n in range(GUESTS)]
    guests = register(simulator, org.calendar_id, event_id, emails)
    event = state.event(event_id)
    limited_before = state.stats()["rate_limited"]
    writes_before = len(state.writes)

    async def deliver(guest: Any) -> None:
        body = json.dumps(guest_payload("guest.registered", guest, event)).encode()
        answer = await anonymous.post(url, content=body, headers=signed_headers(secret, body))
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] is True

    for start in range(0, GUESTS, CHUNK):
        await asyncio.gather(*(deliver(guest) for guest in guests[start : start + CHUNK]))

    async def all_done() -> bool:
        found = await decisions(sessions, org.org_id, event_id)
        return len(found) == GUESTS and all(row.state in DONE for row in found.values())

    try:
        await eventually(all_done, timeout=120, interval=0.5)
    except AssertionError:
        found = await decisions(sessions, org.org_id, event_id)
        states = Counter(row.state for row in found.values())
        raise AssertionError(f"{len(found)} decisions, {dict(states)}: {state.stats()}") from None

    found = await decisions(sessions, org.org_id, event_id)
    assert set(found) == set(emails)
    for email, row in found.items():
        expected = EXPECTED[email.split("@")[1]]
        assert row.action == expected, (email, row.action, row.reason)
        assert row.state == ("held" if expected == "hold" else "written"), (email, row.state)
    written = status_writes(simulator, event_id)
    to_write = {e for e in emails if EXPECTED[e.split("@")[1]] != "hold"}
    assert written == Counter(dict.fromkeys(to_write, 1)), {
        e: n for e, n in written.items() if n != 1 or e not in to_write
    }
    target = {"approve": "approved", "waitlist": "waitlist", "hold": "pending_approval"}
    statuses = {email: event.by_email[email].approval_status for email in emails}
    assert statuses == {e: target[EXPECTED[e.split("@")[1]]] for e in emails}
    # Only the policy's status writes reached Luma during the burst.
    assert {w.endpoint for w in state.writes[writes_before:]} <= {"update-guest-status"}
    stats = state.stats()
    record_property("luma_requests", stats["requests_total"])
    assert stats["rate_limited"] == limited_before == 0, stats
