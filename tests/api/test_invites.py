"""Invite lists end to end: 500 addresses, 20 invalid and 30 already registered, reconcile
exactly (added, already there, invalid), each sent once, within the shared budget."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from store.models import InviteItem
from tests.api.conftest import synced_event


async def test_an_invite_list_of_500_reconciles_exactly(
    tenant, simulator, automations, sessions
) -> None:
    org = tenant.org
    event_id = await synced_event(simulator, automations, org, name="Open Day", guests=40)
    event = simulator.state.event(event_id)
    registered = [guest.person.email for guest in list(event.guests.values())[:30]]
    new = [f"person{n}@invitees.example" for n in range(450)]
    invalid = [f"not-an-address-{n}" for n in range(10)] + [f"bad{n}@" for n in range(10)]
    text = "\n".join(new[:225] + registered + invalid + new[225:])
    path = f"/v1/events/{event_id}/invites"

    dry = await tenant.client.post(path, json={"text": text, "dry_run": True})
    assert dry.status_code == 200, dry.text
    counts = {k: dry.json()[k] for k in ("new", "already", "invalid", "duplicates")}
    assert counts == {"new": 450, "already": 30, "invalid": 20, "duplicates": 0}
    assert dry.json()["workflow_id"] is None and not simulator.state.writes[40:]

    started = await tenant.client.post(path, json={"text": text + "\n" + new[0].upper()})
    assert started.status_code == 200, started.text
    assert started.json()["duplicates"] == 1
    handle = automations.client.get_workflow_handle(started.json()["workflow_id"])
    totals = await handle.result()
    assert totals["counts"] == {"added": 450, "already": 30, "invalid": 20}

    added = [
        w for w in simulator.state.writes if w.endpoint == "add-guests" and w.event_id == event_id
    ]
    per_email = Counter(w.email for w in added if w.old_status is None)
    assert set(per_email) == set(new) and set(per_email.values()) == {1}
    assert all(event.by_email[email].approval_status == "approved" for email in new)
    async with sessions() as session:
        states = Counter(
            await session.scalars(select(InviteItem.state).where(InviteItem.org_id == org.org_id))
        )
    assert states == Counter({"added": 450, "already": 30, "invalid": 20})


async def test_bad_lists_are_refused_and_change_nothing(tenant, simulator, automations) -> None:
    event_id = await synced_event(simulator, automations, tenant.org, name="Open Day", guests=2)
    path = f"/v1/events/{event_id}/invites"
    writes = len(simulator.state.writes)
    for body, code in (
        ({"text": "nobody, nothing here"}, 422),
        ({"text": "a@b.example", "emails": ["c@d.example"]}, 422),
        ({"emails": ["a@b.example"], "how": "shout"}, 422),
        ({"text": "\n".join(f"p{n}@x.example" for n in range(5001))}, 413),
    ):
        answer = await tenant.client.post(path, json=body)
        assert answer.status_code == code, (body, answer.text)
    assert len(simulator.state.writes) == writes
