"""The sync as the approval policy's safety net: a registration whose `guest.registered`
webhook never came is handed to the event's policy by the next guest-list sync, exactly once,
and only if it was made since the policy was switched on."""

from __future__ import annotations

from collections import Counter

from intel.approval_policy import Rule
from intel.policy_reads import CALENDAR_WIDE, policy_for
from services import policies
from services.caller import Caller
from store.models import Role
from tests.api.conftest import synced_event
from tests.api.test_policy_runs import DONE, decisions, register, settled, status_writes
from tests.conftest import eventually
from workflows import ids
from workflows.contracts.sync import SyncReport


async def on_since(sessions, org_id: int, event_id: str) -> float:
    """When the event's policy was switched on, as a Luma timestamp."""
    async with sessions() as session:
        policy = await policy_for(session, org_id=org_id, event_id=event_id)
    assert policy.mode != "off" and policy.on_since is not None
    return policy.on_since.timestamp()


def registered(simulator, event_id: str, email: str, at: float) -> None:
    """Set when the guest registered (in Luma), so before or after is never a race."""
    simulator.state.event(event_id).by_email[email].registered_at = at


async def sync(automations, org_id: int) -> SyncReport:
    report: SyncReport = await (await automations.sync_now(org_id)).result()
    return report


async def test_sync_hands_a_missed_registration_to_the_policy_once(
    tenant, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Founders Dinner", guests=0)
    # Pending before the policy was switched on: the organizer's backlog, not the policy's.
    register(simulator, org.calendar_id, event_id, ["old@acme.com"])
    base = f"/v1/events/{event_id}/policy"
    rules = [{"action": "approve", "domains": ["acme.com"]}]
    assert (await tenant.client.put(f"{base}/rules", json={"rules": rules})).status_code == 200
    assert (await tenant.client.put(f"{base}/mode", json={"mode": "auto"})).status_code == 200
    since = await on_since(sessions, org.org_id, event_id)
    registered(simulator, event_id, "old@acme.com", since - 3600)

    # Signed up since, and Luma's webhooks never reached us. A person declined one of them
    # in Luma before any sync: that stands.
    register(simulator, org.calendar_id, event_id, ["new@acme.com", "person@acme.com"])
    for email in ("new@acme.com", "person@acme.com"):
        registered(simulator, event_id, email, since + 1)
    event = simulator.state.event(event_id)
    event.by_email["person@acme.com"].approval_status = "declined"

    first = await sync(automations, org.org_id)
    assert first.registrations_delivered == 1

    async def decided() -> bool:
        found = await decisions(sessions, org.org_id, event_id)
        return bool(found) and all(row.state in DONE for row in found.values())

    await eventually(decided, timeout=60, interval=0.2)
    found = await decisions(sessions, org.org_id, event_id)
    assert {email: (row.action, row.state) for email, row in found.items()} == {
        "new@acme.com": ("approve", "written")
    }
    statuses = {email: guest.approval_status for email, guest in event.by_email.items()}
    assert statuses == {
        "old@acme.com": "pending_approval",
        "new@acme.com": "approved",
        "person@acme.com": "declined",
    }

    # The next sync finds the decision: nothing is handed over, decided or written again.
    second = await sync(automations, org.org_id)
    assert second.registrations_delivered == 0
    handle = automations.client.get_workflow_handle(ids.policy_id(org.org_id, event_id))
    await eventually(lambda: settled(handle), timeout=30, interval=0.2)
    assert status_writes(simulator, event_id) == Counter({"new@acme.com": 1})
    assert set(await decisions(sessions, org.org_id, event_id)) == {"new@acme.com"}


async def test_sync_hands_over_under_a_calendar_wide_policy_but_not_when_off(
    tenant, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Open Studio", guests=0)
    admin = Caller(org.org_id, Role.ADMIN, "api")
    async with sessions.begin() as session:
        await policies.set_rules(
            admin,
            session,
            event_id=CALENDAR_WIDE,
            rules=[Rule.model_validate({"action": "approve", "domains": ["acme.com"]})],
        )
    register(simulator, org.calendar_id, event_id, ["while-off@acme.com"])
    assert (await sync(automations, org.org_id)).registrations_delivered == 0  # off: none

    async with sessions.begin() as session:
        await policies.set_mode(admin, session, event_id=CALENDAR_WIDE, mode="suggest")
    # The event has no policy of its own: it follows the calendar-wide one, since then.
    since = await on_since(sessions, org.org_id, event_id)
    assert since == await on_since(sessions, org.org_id, CALENDAR_WIDE)
    registered(simulator, event_id, "while-off@acme.com", since - 1)
    register(simulator, org.calendar_id, event_id, ["later@acme.com"])
    registered(simulator, event_id, "later@acme.com", since + 1)

    assert (await sync(automations, org.org_id)).registrations_delivered == 1

    async def decided() -> bool:
        return bool(await decisions(sessions, org.org_id, event_id))

    await eventually(decided, timeout=60, interval=0.2)
    found = await decisions(sessions, org.org_id, event_id)
    assert {email: (row.action, row.state) for email, row in found.items()} == {
        "later@acme.com": ("approve", "suggested")
    }
    assert status_writes(simulator, event_id) == Counter()  # suggest mode writes nothing

    # Customizing the event keeps the reach the calendar-wide policy had; off forgets it.
    async with sessions.begin() as session:
        own = await policies.set_mode(admin, session, event_id=event_id, mode="auto")
    assert not own.inherited and own.on_since is not None
    assert own.on_since.timestamp() == since
    async with sessions.begin() as session:
        off = await policies.set_mode(admin, session, event_id=event_id, mode="off")
    assert off.on_since is None
    async with sessions.begin() as session:
        again = await policies.set_mode(admin, session, event_id=event_id, mode="auto")
    assert again.on_since is not None and again.on_since != own.on_since  # a fresh start
