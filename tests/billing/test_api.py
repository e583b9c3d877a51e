"""Plan limits and billing links in the control API: bulk size, sync interval, usage, Stripe."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from standins.stripe import FakeStripe, event, subscription
from store.models import Organization, OrgEnrichment
from tests.api.conftest import client_for, error_of, issue, synced_event
from tests.billing.conftest import STRIPE_KEY
from tests.billing.test_webhooks import _checkout, _deliver
from tests.conftest import eventually
from workflows import ids
from workflows.ids import enrich_schedule_id


def _cancelled(org_id: int, customer: str, sub: str) -> str:
    obj = subscription(sub, customer, price="price_test_pro", status="canceled", org_id=org_id)
    return event("customer.subscription.deleted", obj)


async def _set_plan(sessions, org_id: int, plan: str) -> None:
    async with sessions.begin() as session:
        org = await session.get(Organization, org_id)
        assert org is not None
        org.plan = plan


async def test_bulk_over_the_plan_is_refused_before_starting(
    billed_app, org, sessions, simulator, automations
) -> None:
    event_id = await synced_event(
        simulator, automations, org, guests=8, status_mix={"pending_approval": 1.0}
    )
    token = await issue(sessions, org.org_id)
    async with client_for(billed_app, token) as client:
        url = f"/v1/events/{event_id}/bulk-status"
        preview = await client.post(
            url, json={"target_status": "approved", "all": True, "dry_run": True}
        )
        assert preview.status_code == 200 and preview.json()["to_change"] == 8
        refused = await client.post(url, json={"target_status": "approved", "all": True})
        assert refused.status_code == 403
        error = error_of(refused)
        assert error["code"] == "plan_limit"
        assert "up to 5 guests" in error["message"] and "8" in error["message"]
        assert "Pro plan" in error["message"] and "/upgrade" in error["message"]
        assert not [w for w in simulator.state.writes if w.calendar_id == org.calendar_id]

        await _set_plan(sessions, org.org_id, "pro")
        started = await client.post(url, json={"target_status": "approved", "all": True})
        assert started.status_code == 202
        handle = automations.bulk_handle(started.json()["workflow_id"])
        assert (await handle.result()).done == 8
        usage = (await client.get("/v1/usage")).json()
        assert usage["plan"] == "pro" and usage["used"]["bulk_guests"] == 8


async def test_sync_interval_within_the_plan(billed_app, org, sessions, automations) -> None:
    token = await issue(sessions, org.org_id)
    try:
        async with client_for(billed_app, token) as client:
            refused = await client.put("/v1/sync/schedule", json={"interval_minutes": 15})
            assert refused.status_code == 403
            assert "every 60 minutes" in error_of(refused)["message"]
            assert not await automations.schedule_exists(ids.sync_schedule_id(org.org_id))
            bad = await client.put("/v1/sync/schedule", json={"interval_minutes": 0})
            assert bad.status_code == 422

            saved = await client.put("/v1/sync/schedule", json={"interval_minutes": 90})
            assert saved.status_code == 200 and saved.json() == {"interval_minutes": 90}
            assert await automations.schedule_exists(ids.sync_schedule_id(org.org_id))
            await _set_plan(sessions, org.org_id, "pro")
            faster = await client.put("/v1/sync/schedule", json={"interval_minutes": 15})
            assert faster.status_code == 200
        async with sessions() as session:
            minutes = await session.scalar(
                select(Organization.sync_interval_minutes).where(Organization.id == org.org_id)
            )
        assert minutes == 15
    finally:
        await automations.on_org_unlinked(org.org_id, [])


async def test_usage_and_stripe_links(
    billed_app, org, other, sessions, fake_stripe: FakeStripe
) -> None:
    token = await issue(sessions, org.org_id)
    async with client_for(billed_app, token) as client:
        usage = (await client.get("/v1/usage")).json()
        assert usage["plan"] == "free" and usage["billing_enabled"] is True
        assert usage["limits"]["max_bulk_guests"] == 5 and usage["upgrades"] == ["Pro", "Team"]

        no_portal = await client.post("/v1/billing/portal")
        assert no_portal.status_code == 409 and "/upgrade" in error_of(no_portal)["message"]
        unknown = await client.post("/v1/billing/checkout", json={"plan": "free"})
        assert unknown.status_code == 400

        before = len(fake_stripe.requests)
        link = await client.post("/v1/billing/checkout", json={"plan": "team"})
        assert link.status_code == 200, link.text
        assert link.json()["url"].startswith("https://checkout.stripe.test/")
        customer, checkout = fake_stripe.requests[before:]
        assert customer.path == "/v1/customers"
        assert customer.form["metadata[org_id]"] == str(org.org_id)
        assert customer.headers["authorization"] == f"Bearer {STRIPE_KEY}"
        assert checkout.form["client_reference_id"] == str(org.org_id)
        assert checkout.form["metadata[plan]"] == "team"
        assert checkout.form["line_items[0][price]"] == "price_test_team"
        assert checkout.form["success_url"].startswith("https://lumabot.test/")

        portal = await client.post("/v1/billing/portal")
        assert portal.status_code == 200
        assert portal.json()["url"].startswith("https://billing.stripe.test/")
        assert fake_stripe.requests[-1].form["customer"] == checkout.form["customer"]

    # Tenants never see each other's plan or usage.
    other_usage = (await other.client.get("/v1/usage")).json()
    assert other_usage["org_id"] == other.org.org_id and other_usage["used"] == {}


async def test_plan_change_mid_job_lets_the_job_finish(
    billed_app, org, sessions, simulator, automations
) -> None:
    """Upgrade to start a big job, downgrade while it runs: it finishes; new work is refused."""
    event_id = await synced_event(
        simulator, automations, org, guests=120, status_mix={"pending_approval": 1.0}
    )
    token = await issue(sessions, org.org_id)
    async with client_for(billed_app, token) as client, client_for(billed_app) as stripe:
        upgraded = await _deliver(stripe, _checkout(org.org_id, "pro", "cus_M1", "sub_M1"))
        assert upgraded.json()["result"] == "applied"
        simulator.state.configure(latency_seconds=0.02)
        try:
            url = f"/v1/events/{event_id}/bulk-status"
            started = await client.post(url, json={"target_status": "approved", "all": True})
            assert started.status_code == 202
            job_url = f"/v1/jobs/{started.json()['workflow_id']}"

            async def working() -> bool:
                progress = (await client.get(job_url)).json()["progress"]
                return bool(progress and 0 < progress["done"] < progress["total"])

            await eventually(working)
            cancelled = _cancelled(org.org_id, "cus_M1", "sub_M1")
            assert (await _deliver(stripe, cancelled)).json()["result"] == "applied"
            usage = (await client.get("/v1/usage")).json()
            assert usage["plan"] == "free"
            still = (await client.get(job_url)).json()
            assert still["status"] == "running"
        finally:
            simulator.state.configure(latency_seconds=0.0)
        report = await automations.bulk_handle(started.json()["workflow_id"]).result()
        assert report.done == 120 and report.failed == 0 and not report.cancelled
        pending = simulator.state.event(event_id).guests.values()
        assert all(guest.approval_status == "approved" for guest in pending)

        # The data is kept; only new work meets the Free plan's limits.
        again = await client.post(url, json={"target_status": "declined", "all": True})
        assert again.status_code == 403 and error_of(again)["code"] == "plan_limit"


async def test_a_downgrade_moves_the_standing_schedules(
    billed_app, org, sessions, automations
) -> None:
    """Future work follows the plan: the sync schedule slows to the floor, enrichment stops,
    and comes back with a plan that includes it."""
    async with client_for(billed_app) as stripe:
        await _deliver(stripe, _checkout(org.org_id, "pro", "cus_S1", "sub_S1"))
        await _set_plan(sessions, org.org_id, "pro")
        async with sessions.begin() as session:
            row = await session.get(Organization, org.org_id)
            assert row is not None
            row.sync_interval_minutes = 15
            session.add(
                OrgEnrichment(
                    org_id=org.org_id,
                    provider="pdl",
                    key_ciphertext=b"x",
                    key_fingerprint="abcd",
                    enabled=True,
                )
            )
        schedule_id = ids.sync_schedule_id(org.org_id)
        await automations.ensure_sync_schedule(org.org_id, 15)
        await automations.set_enrichment_schedule(org.org_id, True)
        try:
            cancelled = _cancelled(org.org_id, "cus_S1", "sub_S1")
            assert (await _deliver(stripe, cancelled)).json()["result"] == "applied"
            described = await automations.client.get_schedule_handle(schedule_id).describe()
            assert described.schedule.spec.intervals[0].every == timedelta(minutes=60)
            assert not await automations.schedule_exists(enrich_schedule_id(org.org_id))
            back = _checkout(org.org_id, "pro", "cus_S1", "sub_S2")
            assert (await _deliver(stripe, back)).json()["result"] == "applied"
            assert await automations.schedule_exists(enrich_schedule_id(org.org_id))
        finally:
            await automations.on_org_unlinked(org.org_id, [])
            await automations.set_enrichment_schedule(org.org_id, False)
