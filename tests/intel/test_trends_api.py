"""GET /v1/trends: the token's org only, every dimension, bad parameters refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import (  # noqa: F401
    api_limits,
    api_settings,
    app,
    automations,
    error_of,
    job_defaults,
    org,
    other,
    pool,
    simulator,
    synced_event,
    tenant,
)


async def test_trends_of_the_tokens_org(tenant, other, simulator, automations) -> None:  # noqa: F811
    now = datetime.now(UTC)
    await synced_event(
        simulator,
        automations,
        tenant.org,
        name="Spring Meetup",
        city="Lisbon",
        start_at=now - timedelta(days=20),
        guests=10,
        status_mix={"approved": 1.0},
        checked_in_share=1.0,
    )
    await synced_event(
        simulator,
        automations,
        tenant.org,
        name="Summer Mixer",
        city="Dubai",
        start_at=now + timedelta(days=5),
        guests=4,
        status_mix={"pending_approval": 0.5, "approved": 0.5},
    )
    await synced_event(simulator, automations, other.org, name="Theirs", city="Paris", guests=7)

    by_city = await tenant.client.get("/v1/trends", params={"by": "city"})
    assert by_city.status_code == 200
    body = by_city.json()
    rows = {row["key"]: row for row in body["rows"]}
    assert set(rows) == {"Lisbon", "Dubai"}  # never the other org's Paris
    assert rows["Lisbon"] == {
        "key": "Lisbon",
        "events": 1,
        "registered": 10,
        "approved": 10,
        "attended": 10,
        "no_shows": 0,
        "approval_rate": 1.0,
        "attendance_rate": 1.0,
        "no_show_rate": 0.0,
    }
    assert (rows["Dubai"]["registered"], rows["Dubai"]["approved"]) == (4, 2)
    assert rows["Dubai"]["attendance_rate"] is None  # not over yet
    assert rows["Dubai"]["no_show_rate"] is None
    assert body["total"]["registered"] == 14 and body["total"]["events"] == 2

    by_month = (await tenant.client.get("/v1/trends")).json()
    assert by_month["by"] == "month"
    assert [row["key"] for row in by_month["rows"]] == sorted(r["key"] for r in by_month["rows"])

    refused = await tenant.client.get("/v1/trends", params={"by": "weather"})
    assert refused.status_code == 422 and "by" in error_of(refused)["message"]
    zone = await tenant.client.get("/v1/trends", params={"timezone": "Mars/Base"})
    assert zone.status_code == 422


async def test_trends_need_a_token(app) -> None:  # noqa: F811
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://api.test"
    ) as client:
        assert (await client.get("/v1/trends")).status_code == 401
