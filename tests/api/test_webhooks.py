"""Luma webhooks: the guest is re-read from Luma, whatever the payload claims."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from standins.luma import shapes
from store import cache
from store.models import Organization
from tests.api.conftest import error_of, synced_event


async def webhook_url(sessions, org_id: int) -> str:
    async with sessions() as session:
        token = await session.scalar(
            select(Organization.webhook_token).where(Organization.id == org_id)
        )
    return f"/luma/webhook/{token}"


async def cached_status(sessions, org_id: int, event_id: str) -> dict[str, int]:
    async with sessions() as session:
        return await cache.count_by_status(session, org_id=org_id, luma_event_id=event_id)


async def test_webhook_rereads_the_guest(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    event = simulator.state.event(event_id)
    guest = next(iter(event.guests.values()))
    guest.approval_status = "approved"  # changed in Luma
    payload: dict[str, Any] = {"type": "guest.updated", "data": shapes.guest_v3(guest, event)}
    payload["data"]["approval_status"] = "declined"  # the body lies
    payload["data"]["event"] = shapes.event_v3(event)

    url = await webhook_url(sessions, tenant.org.org_id)
    response = await anonymous.post(url, json=payload)
    assert response.status_code == 202 and response.json()["accepted"] is True
    assert await automations.handle(response.json()["workflow_id"]).result() == "approved"
    assert await cached_status(sessions, tenant.org.org_id, event_id) == {
        "approved": 1,
        "pending_approval": 2,
    }


async def test_legacy_payload_named_by_email(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=2, status_mix={"pending_approval": 1.0}
    )
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    guest.approval_status = "waitlist"
    payload = {
        "type": "guest.registered",
        "data": {"user_email": guest.person.email, "event_api_id": event_id},
    }
    response = await anonymous.post(await webhook_url(sessions, tenant.org.org_id), json=payload)
    assert response.status_code == 202
    assert await automations.handle(response.json()["workflow_id"]).result() == "waitlist"


async def test_webhook_refusals(tenant, anonymous, sessions) -> None:
    url = await webhook_url(sessions, tenant.org.org_id)
    unknown = await anonymous.post("/luma/webhook/" + "x" * 40, json={"type": "guest.updated"})
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"
    ignored = await anonymous.post(url, json={"type": "event.created", "data": {"id": "evt-1"}})
    assert ignored.status_code == 202 and ignored.json() == {
        "accepted": False,
        "workflow_id": None,
    }
    nameless = await anonymous.post(url, json={"type": "guest.updated", "data": {"x": 1}})
    assert nameless.status_code == 422 and "name its event" in error_of(nameless)["message"]
    not_json = await anonymous.post(
        url, content=b"[1, 2", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    huge = await anonymous.post(
        url, json={"type": "guest.updated", "data": {"blob": "x" * 300_000}}
    )
    assert huge.status_code == 413
