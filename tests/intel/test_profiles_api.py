"""Profiles over HTTP: a Luma webhook refreshes the person's profile; CSV profile columns."""

from __future__ import annotations

import csv
import io
from typing import Any

from luma.emails import identity_key
from standins.luma import shapes
from store.profiles import add_tag, get_profile
from tests.api import conftest as api_fixtures
from tests.api.test_webhooks import webhook_url

# The API tests' fixtures, reused as they are.
synced_event = api_fixtures.synced_event
anonymous, app, tenant, other = (api_fixtures.anonymous, api_fixtures.app, api_fixtures.tenant,
                                 api_fixtures.other)  # fmt: skip
api_limits, api_settings = api_fixtures.api_limits, api_fixtures.api_settings
automations, job_defaults, org = (
    api_fixtures.automations,
    api_fixtures.job_defaults,
    api_fixtures.org,
)
pool, simulator = api_fixtures.pool, api_fixtures.simulator


async def test_webhook_refreshes_the_persons_profile(
    tenant, anonymous, simulator, automations, sessions
) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    event = simulator.state.event(event_id)
    guest = next(iter(event.guests.values()))
    key = identity_key(guest.person.email)
    async with sessions() as session:
        before = await get_profile(session, org_id=tenant.org.org_id, normalized_email=key)
    assert before is not None and before.events_approved == 0

    guest.approval_status = "approved"  # changed in Luma; no sync runs after this
    payload: dict[str, Any] = {"type": "guest.updated", "data": shapes.guest_v3(guest, event)}
    payload["data"]["event"] = shapes.event_v3(event)
    response = await anonymous.post(await webhook_url(sessions, tenant.org.org_id), json=payload)
    assert await automations.handle(response.json()["workflow_id"]).result() == "approved"

    async with sessions() as session:
        after = await get_profile(session, org_id=tenant.org.org_id, normalized_email=key)
    assert after is not None and after.events_approved == 1


async def test_csv_has_profile_columns_of_the_tokens_org_only(
    tenant, other, simulator, automations, sessions
) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=5, status_mix={"approved": 1.0}
    )
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    key = identity_key(guest.person.email)
    async with sessions.begin() as session:
        await add_tag(session, org_id=tenant.org.org_id, normalized_email=key, tag="vip", user_id=1)
        await add_tag(
            session, org_id=other.org.org_id, normalized_email=key, tag="press", user_id=1
        )

    response = await tenant.client.get(f"/v1/events/{event_id}/guests.csv")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert len(rows) == 5
    row = rows[guest.person.email]
    assert (row["tags"], row["repeat_count"]) == ("vip", "1")
    assert int(row["vip_score"]) >= 100 and "tagged vip (+100)" in row["vip_reasons"]
    assert {r["tags"] for email, r in rows.items() if email != guest.person.email} == {""}
