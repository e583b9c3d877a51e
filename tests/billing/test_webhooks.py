"""POST /stripe/webhook: signed events change the org's plan once; bad signatures change nothing."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import func, select

from api.main import create_app
from billing import Billing, BillingUnavailable
from standins.stripe import event, signature, subscription
from store.models import BillingSubscription, Organization, StripeEvent
from tests.api.conftest import client_for, error_of
from tests.billing.conftest import WEBHOOK_SECRET


async def _plan(sessions, org_id: int) -> str:
    async with sessions() as session:
        org = await session.get(Organization, org_id)
        assert org is not None
        return org.plan


async def _deliver(
    client: httpx.AsyncClient, body: str, *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> httpx.Response:
    headers = {"Stripe-Signature": signature(body, secret, timestamp=at)}
    return await client.post("/stripe/webhook", content=body, headers=headers)


def _checkout(org_id: int, plan: str, customer: str, sub: str) -> str:
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "client_reference_id": str(org_id),
        "customer": customer,
        "subscription": sub,
        "mode": "subscription",
        "status": "complete",
        "metadata": {"org_id": str(org_id), "plan": plan},
    }
    return event("checkout.session.completed", session)


async def test_checkout_update_delete_and_replay(billed_app, org, sessions) -> None:
    async with client_for(billed_app) as client:
        assert await _plan(sessions, org.org_id) == "free"
        completed = _checkout(org.org_id, "pro", "cus_A1", "sub_A1")
        first = await _deliver(client, completed)
        assert first.status_code == 200 and first.json()["result"] == "applied"
        assert await _plan(sessions, org.org_id) == "pro"

        # A replay of the same event (same id) is acknowledged and changes nothing.
        async with sessions.begin() as session:
            (await session.get(Organization, org.org_id)).plan = "team"
        replay = await _deliver(client, completed)
        assert replay.status_code == 200 and replay.json()["result"] == "replay"
        assert await _plan(sessions, org.org_id) == "team"

        # The subscription moves to the Team price: found by its id (no metadata needed).
        updated = event(
            "customer.subscription.updated",
            subscription("sub_A1", "cus_A1", price="price_test_pro"),
        )
        assert (await _deliver(client, updated)).json()["result"] == "applied"
        assert await _plan(sessions, org.org_id) == "pro"
        async with sessions() as session:
            row = await session.get(BillingSubscription, org.org_id)
            assert row is not None and row.stripe_customer_id == "cus_A1"
            assert row.status == "active" and row.current_period_end is not None

        unpaid = event(
            "customer.subscription.updated",
            subscription("sub_A1", "cus_A1", price="price_test_pro", status="unpaid"),
        )
        await _deliver(client, unpaid)
        assert await _plan(sessions, org.org_id) == "free"

        deleted = event(
            "customer.subscription.deleted",
            subscription("sub_A1", "cus_A1", price="price_test_team", status="canceled"),
        )
        assert (await _deliver(client, deleted)).json()["result"] == "applied"
        assert await _plan(sessions, org.org_id) == "free"
        async with sessions() as session:
            row = await session.get(BillingSubscription, org.org_id)
            assert row is not None and row.status == "canceled"

        # An update of the deleted subscription delivered late changes nothing.
        late = event(
            "customer.subscription.updated",
            subscription("sub_A1", "cus_A1", price="price_test_team"),
        )
        assert (await _deliver(client, late)).json()["result"] == "ignored"
        assert await _plan(sessions, org.org_id) == "free"


async def test_one_live_subscription_per_org(billed_app, billing, org, sessions) -> None:
    """A second subscription is never started beside a live one, and another subscription's
    events (a stray old one renewing or being cancelled) do not move the plan."""
    async with client_for(billed_app) as client:
        await _deliver(client, _checkout(org.org_id, "pro", "cus_L1", "sub_L1"))
        assert await _plan(sessions, org.org_id) == "pro"
        async with sessions() as session:
            org_row = await session.get(Organization, org.org_id)
            with pytest.raises(BillingUnavailable, match="already has a subscription"):
                await billing.checkout_url(session, org=org_row, plan=billing.catalog.get("team"))

        stray = subscription("sub_OTHER", "cus_L1", price="price_test_team", org_id=org.org_id)
        renewed = await _deliver(client, event("customer.subscription.updated", stray))
        assert renewed.json()["result"] == "ignored"
        cancelled = await _deliver(client, event("customer.subscription.deleted", stray))
        assert cancelled.json()["result"] == "ignored"
        assert await _plan(sessions, org.org_id) == "pro"

        # The org's own subscription still rules: its cancellation ends the plan.
        own = subscription("sub_L1", "cus_L1", price="price_test_pro")
        ended = event("customer.subscription.deleted", own)
        assert (await _deliver(client, ended)).json()["result"] == "applied"
        assert await _plan(sessions, org.org_id) == "free"


async def test_bad_signatures_change_nothing(billed_app, org, sessions) -> None:
    body = _checkout(org.org_id, "team", "cus_B1", "sub_B1")
    async with client_for(billed_app) as client:
        wrong = await _deliver(client, body, secret="whsec_someone_else")
        assert wrong.status_code == 400 and "Stripe-Signature" in error_of(wrong)["message"]
        stale = await _deliver(client, body, at=int(time.time()) - 3600)
        assert stale.status_code == 400
        missing = await client.post("/stripe/webhook", content=body)
        assert missing.status_code == 400
        signed = signature(body, WEBHOOK_SECRET)
        altered = await client.post(
            "/stripe/webhook",
            content=body.replace('"team"', '"pro"'),
            headers={"Stripe-Signature": signed},
        )
        assert altered.status_code == 400
        async with sessions() as session:
            recorded = await session.scalar(
                select(func.count()).where(StripeEvent.org_id == org.org_id)
            )
    assert recorded == 0
    assert await _plan(sessions, org.org_id) == "free"


async def test_unknown_org_and_other_events_are_acknowledged(billed_app, org, sessions) -> None:
    async with client_for(billed_app) as client:
        nobody = await _deliver(client, _checkout(987_654_321, "pro", "cus_C1", "sub_C1"))
        assert nobody.status_code == 200 and nobody.json()["result"] == "unknown org"
        other = await _deliver(client, event("invoice.paid", {"id": "in_1"}))
        assert other.json()["result"] == "ignored"
        unpaid = _checkout(org.org_id, "pro", "cus_C3", "sub_C3").replace(
            '"status": "complete"', '"status": "complete", "payment_status": "unpaid"'
        )
        assert (await _deliver(client, unpaid)).json()["result"] == "ignored"
        unknown_plan = await _deliver(client, _checkout(org.org_id, "platinum", "cus_C2", "sub"))
        assert unknown_plan.json()["result"] == "unknown org"
    assert await _plan(sessions, org.org_id) == "free"


async def test_webhook_is_off_without_stripe(api_settings, sessions, automations, plans_file):
    from api.deps import ApiDeps

    app = create_app(api_settings, deps=ApiDeps(sessions, automations))
    off = api_settings.model_copy(update={"billing_plans_file": plans_file})
    app.state.billing = Billing.from_settings(off)
    async with app.router.lifespan_context(app), client_for(app) as client:
        body = event("invoice.paid", {"id": "in_2"})
        response = await _deliver(client, body)
    assert response.status_code == 404 and "off" in error_of(response)["message"]
