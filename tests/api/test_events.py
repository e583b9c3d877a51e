"""Events: listing with filters, one event's counts, unknown ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import error_of, synced_event


async def test_list_and_filter_events(tenant, simulator, automations) -> None:
    now = datetime.now(UTC)
    future = await synced_event(
        simulator,
        automations,
        tenant.org,
        name="Summer Mixer",
        city="Dubai",
        start_at=now + timedelta(days=5),
        guests=4,
    )
    past = await synced_event(
        simulator,
        automations,
        tenant.org,
        name="Spring Meetup",
        city="Lisbon",
        start_at=now - timedelta(days=20),
        guests=2,
    )
    client = tenant.client

    everything = (await client.get("/v1/events")).json()["events"]
    assert [event["id"] for event in everything] == [past, future]
    assert everything[1]["start_at"].endswith(("Z", "+00:00"))  # aware timestamps

    upcoming = (await client.get("/v1/events", params={"when": "upcoming"})).json()["events"]
    assert [event["name"] for event in upcoming] == ["Summer Mixer"]
    previous = (await client.get("/v1/events", params={"when": "past"})).json()["events"]
    assert [event["name"] for event in previous] == ["Spring Meetup"]
    lisbon = (await client.get("/v1/events", params={"city": "lisbon"})).json()["events"]
    assert [event["id"] for event in lisbon] == [past]
    window = {"from": (now + timedelta(days=4)).date().isoformat(), "to": "2100-01-01"}
    assert [e["id"] for e in (await client.get("/v1/events", params=window)).json()["events"]] == [
        future
    ]


async def test_event_summary_counts(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        guests=10,
        status_mix={"approved": 0.6, "pending_approval": 0.2, "invited": 0.2},
    )
    response = await tenant.client.get(f"/v1/events/{event_id}")
    assert response.status_code == 200
    summary = response.json()
    assert summary["id"] == event_id and summary["guests_synced_at"]
    counts = summary["counts"]
    assert counts["by_status"] == {"approved": 6, "pending_approval": 2, "invited": 2}
    assert (counts["registered"], counts["approved"], counts["pending"]) == (8, 6, 2)


async def test_bad_event_queries_are_clear(tenant) -> None:
    missing = await tenant.client.get("/v1/events/evt-does-not-exist")
    assert missing.status_code == 404
    assert error_of(missing) == {
        "code": "not_found",
        "message": "No such event in your organization.",
    }
    for params, field in [
        ({"when": "someday"}, "when"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"from": "1066-10-14"}, "from"),
        ({"limit": 0}, "limit"),
    ]:
        response = await tenant.client.get("/v1/events", params=params)
        assert response.status_code == 422, params
        assert field in error_of(response)["message"]


async def test_attendance_rate_is_absent_until_the_event_is_over(
    tenant, simulator, automations
) -> None:
    now = datetime.now(UTC)
    upcoming = await synced_event(
        simulator,
        automations,
        tenant.org,
        start_at=now + timedelta(days=5),
        guests=4,
        status_mix={"approved": 1.0},
    )
    over = await synced_event(
        simulator,
        automations,
        tenant.org,
        start_at=now - timedelta(days=20),
        guests=4,
        status_mix={"approved": 1.0},
        checked_in_share=1.0,
    )
    ahead = (await tenant.client.get(f"/v1/events/{upcoming}")).json()["counts"]
    assert ahead["approved"] == 4 and ahead["attendance_rate"] is None  # null, never 0
    assert (await tenant.client.get(f"/v1/events/{over}")).json()["counts"][
        "attendance_rate"
    ] == 1.0
