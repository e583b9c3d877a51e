"""Sync on demand and the digest settings of the org's chats."""

from __future__ import annotations

from sqlalchemy import select

from store import orgs
from store.models import AutomationSettings
from tests.api.conftest import error_of
from workflows import ids


async def test_sync_now(tenant, automations, simulator) -> None:
    simulator.state.add_event(tenant.org.calendar_id, name="Fresh Event", guests=3)
    response = await tenant.client.post("/v1/sync")
    assert response.status_code == 202
    started = response.json()
    assert started["workflow_id"] == ids.sync_id(tenant.org.org_id)
    assert started["web_url"].endswith(f"/web/jobs/{started['workflow_id']}")
    await automations.handle(started["workflow_id"]).result()
    events = (await tenant.client.get("/v1/events")).json()["events"]
    assert [event["name"] for event in events] == ["Fresh Event"]


async def test_digest_settings_drive_the_schedule(tenant, automations, sessions) -> None:
    chat_id = -1_000_000 - tenant.org.org_id
    async with sessions.begin() as session:
        await orgs.link_chat(
            session,
            chat_id=chat_id,
            org_id=tenant.org.org_id,
            kind="group",
            title="Team",
            linked_by=5,
        )
    schedule_id = ids.digest_schedule_id(chat_id)
    listed = (await tenant.client.get("/v1/digest")).json()
    assert listed == {
        "chats": [
            {
                "chat_id": chat_id,
                "chat_title": "Team",
                "enabled": False,
                "time": "09:00",
                "timezone": "UTC",
            }
        ]
    }

    body = {"chat_id": chat_id, "enabled": True, "time": "08:30", "timezone": "Europe/Lisbon"}
    saved = await tenant.client.put("/v1/digest", json=body)
    assert saved.status_code == 200 and saved.json() == body | {"chat_title": "Team"}
    described = await automations.client.get_schedule_handle(schedule_id).describe()
    assert described.schedule.spec.time_zone_name == "Europe/Lisbon"
    assert described.schedule.spec.calendars[0].hour[0].start == 8
    one = (await tenant.client.get("/v1/digest", params={"chat_id": chat_id})).json()
    assert one["chats"][0]["enabled"] is True and one["chats"][0]["time"] == "08:30"
    jobs = (await tenant.client.get("/v1/jobs")).json()["jobs"]
    assert {"workflow_id": schedule_id, "kind": "digest-schedule"}.items() <= jobs[0].items()

    for bad, field in [({"time": "25:00"}, "time"), ({"timezone": "Mars/Base"}, "timezone")]:
        refused = await tenant.client.put("/v1/digest", json=body | bad)
        assert refused.status_code == 422 and field in error_of(refused)["message"]
    async with sessions() as session:
        row = await session.get(AutomationSettings, chat_id)
        assert (row.digest_time, row.digest_timezone) == ("08:30", "Europe/Lisbon")

    off = await tenant.client.put("/v1/digest", json=body | {"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert not await automations.schedule_exists(schedule_id)
    async with sessions() as session:
        actions = await session.scalars(
            select(AutomationSettings.digest_enabled).where(AutomationSettings.chat_id == chat_id)
        )
        assert list(actions) == [False]


async def test_digest_for_unlinked_chat(tenant) -> None:
    body = {"chat_id": 4242, "enabled": True}
    missing = await tenant.client.put("/v1/digest", json=body)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    listed = await tenant.client.get("/v1/digest", params={"chat_id": 4242})
    assert listed.status_code == 404
