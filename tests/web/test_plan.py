"""Billing in the portal over HTTP: plan limits on bulk jobs, team members and the sync
interval (same sentences as the bot and the API), and the Plan page with billing off and on
(Upgrade and Manage against the fake Stripe)."""

from __future__ import annotations

from sqlalchemy import select

from billing.limits import BULK_GUESTS
from store.models import Organization, Role, utcnow
from store.orgs import get_role, list_members
from store.usage import usage
from tests.api.conftest import synced_event
from tests.web.conftest import csrf_of

REFUSED_BULK = "Your Free plan allows bulk jobs of up to 5 guests; this one would change 8."
UPGRADE = "The Pro plan allows more: an admin can upgrade with /upgrade."


async def _bulk_jobs(automations, org_id: int) -> list[str]:
    jobs = await automations.list_jobs(org_id, limit=50)
    return [job.workflow_id for job in jobs if job.kind == "bulk"]


async def _bulk_used(portal) -> int:
    async with portal.sessions() as session:
        counters = await usage(session, org_id=portal.org.org_id, day=utcnow().date())
    return counters.get(BULK_GUESTS, 0)


async def test_bulk_over_the_plan_is_refused_and_starts_nothing(
    billed_portal, simulator, automations
) -> None:
    portal = billed_portal
    event_id = await synced_event(
        simulator,
        automations,
        portal.org,
        guests=10,
        status_mix={"pending_approval": 0.8, "approved": 0.2},
    )
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(f"/web/events/{event_id}/guests")).text)
        form = {"csrf": token, "do": "approve:matching", "f_status": "pending_approval"}
        confirm = await admin.post(f"/web/events/{event_id}/bulk", data=form)
        assert confirm.status_code == 403
        assert REFUSED_BULK in confirm.text and UPGRADE in confirm.text
        assert 'id="plan-refusal"' in confirm.text and 'id="confirm-bulk"' not in confirm.text
        assert "/web/plan" in confirm.text
        start = await admin.post(f"/web/events/{event_id}/bulk/start", data=form)
        assert start.status_code == 403
        assert REFUSED_BULK in start.text and UPGRADE in start.text
        assert await _bulk_jobs(automations, portal.org.org_id) == []
        assert await _bulk_used(portal) == 0

        guests = simulator.state.calendar(portal.org.calendar_id).events[event_id].guests
        chosen = sorted(
            g.person.email for g in guests.values() if g.approval_status == "pending_approval"
        )[:3]
        small = {"csrf": token, "do": "approve:selected", "email": chosen}
        assert (await admin.post(f"/web/events/{event_id}/bulk", data=small)).status_code == 200
        started = await admin.post(f"/web/events/{event_id}/bulk/start", data=small)
        assert started.status_code == 303
        assert len(await _bulk_jobs(automations, portal.org.org_id)) == 1
        assert await _bulk_used(portal) == 3  # today's usage counts the job's guests


async def test_a_newcomer_over_the_team_size_is_refused_a_role_change_is_not(
    billed_portal,
) -> None:
    portal = billed_portal
    async with portal.signed_in(Role.ADMIN) as admin:
        async with portal.sessions() as session:
            count = len(await list_members(session, org_id=portal.org.org_id))
        members = [await portal.person(Role.MEMBER) for _ in range(max(0, 2 - count))]
        newcomer = await portal.person(None)  # has talked to the bot, not on this team
        token = csrf_of((await admin.get("/web/team")).text)
        assert "Your Free plan allows 2 team member(s)" in (await admin.get("/web/team")).text

        refused = await admin.post(
            "/web/team/add", data={"csrf": token, "who": f"@u{newcomer}", "role": "admin"}
        )
        assert refused.status_code == 403
        assert "Your Free plan allows 2 team member(s), and 2 already are." in refused.text
        assert "The Pro plan allows more" in refused.text
        async with portal.sessions() as session:
            assert await get_role(session, org_id=portal.org.org_id, user_id=newcomer) is None

        if members:  # promoting someone already on the team stays possible at the limit
            promoted = await admin.post(
                "/web/team/role",
                data={"csrf": token, "user_id": str(members[0]), "role": "admin"},
            )
            assert promoted.status_code == 303
            again = await admin.post(
                "/web/team/add", data={"csrf": token, "who": str(members[0]), "role": "member"}
            )
            assert again.status_code == 303
            async with portal.sessions() as session:
                role = await get_role(session, org_id=portal.org.org_id, user_id=members[0])
            assert role is Role.MEMBER

        unknown = await admin.post(
            "/web/team/add", data={"csrf": token, "who": "@nobody_knows_me", "role": "member"}
        )
        assert unknown.status_code == 400 and "has talked to the bot" in unknown.text


async def test_adding_a_person_within_the_plan(portal) -> None:
    newcomer = await portal.person(None)
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get("/web/team")).text)
        added = await admin.post(
            "/web/team/add", data={"csrf": token, "who": f"@U{newcomer}", "role": "member"}
        )
        assert added.status_code == 303
    async with portal.sessions() as session:
        assert await get_role(session, org_id=portal.org.org_id, user_id=newcomer) is Role.MEMBER
    async with portal.signed_in(Role.MEMBER) as member:
        token = csrf_of((await member.get("/web/team")).text)
        refused = await member.post(
            "/web/team/add", data={"csrf": token, "who": str(newcomer), "role": "admin"}
        )
        assert refused.status_code == 403 and "Admins only" in refused.text


async def test_sync_interval_within_the_plans_minimum(billed_portal) -> None:
    portal = billed_portal
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/automations")
        assert "Your Free plan syncs at most every 60 minute(s)." in page.text
        token = csrf_of(page.text)
        before = await _interval(portal)
        refused = await admin.post("/web/automations/sync", data={"csrf": token, "interval": "15"})
        assert refused.status_code == 403
        assert "Your Free plan syncs at most every 60 minutes" in refused.text
        assert "The Pro plan allows more" in refused.text
        assert await _interval(portal) == before
        saved = await admin.post("/web/automations/sync", data={"csrf": token, "interval": "90"})
        assert saved.status_code == 303
        assert await _interval(portal) == 90


async def _interval(portal) -> int:
    async with portal.sessions() as session:
        org = await session.scalar(select(Organization).where(Organization.id == portal.org.org_id))
    assert org is not None
    return org.sync_interval_minutes


async def test_plan_page_with_billing_off(portal) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/plan")
        assert page.status_code == 200
        assert 'href="/web/plan" aria-current="page"' in page.text
        assert "Billing is off on this install: every calendar has the Team plan." in page.text
        assert "/web/plan/checkout" not in page.text and "Manage subscription" not in page.text
        token = csrf_of(page.text)
        refused = await admin.post("/web/plan/checkout", data={"csrf": token, "plan": "team"})
        assert refused.status_code == 409 and "Billing is off" in refused.text


async def test_plan_page_upgrades_through_stripe_checkout(billed_portal, fake_stripe) -> None:
    portal = billed_portal
    org_id = portal.org.org_id
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/plan")
        assert page.status_code == 200
        assert "Free plan" in page.text and "Billing is off" not in page.text
        assert "Upgrade to Pro" in page.text and "Upgrade to Team" in page.text
        assert (
            "form-action 'self' https://checkout.stripe.com"
            in (page.headers["content-security-policy"])
        )
        assert "Manage subscription" not in page.text  # no Stripe customer yet
        token = csrf_of(page.text)

        forged = await admin.post("/web/plan/checkout", data={"csrf": "nope", "plan": "pro"})
        assert forged.status_code == 403
        assert (
            await admin.post("/web/plan/checkout", data={"csrf": token, "plan": "free"})
        ).status_code == 400

        before = len(fake_stripe.requests)
        upgrade = await admin.post("/web/plan/checkout", data={"csrf": token, "plan": "pro"})
        assert upgrade.status_code == 303
        assert upgrade.headers["location"].startswith("https://checkout.stripe.test/c/pay/cs_")
        [checkout] = [r for r in fake_stripe.requests[before:] if r.path == "/v1/checkout/sessions"]
        assert checkout.form["client_reference_id"] == str(org_id)
        assert checkout.form["metadata[org_id]"] == str(org_id)
        assert checkout.form["metadata[plan]"] == "pro"
        assert checkout.form["line_items[0][price]"] == "price_test_pro"
        # Stripe sends people back to the portal's plan page, which thanks them.
        assert checkout.form["success_url"].endswith("/web/plan?checkout=done")
        thanks = await admin.get("/web/plan?checkout=done")
        assert "the new plan applies as soon as" in thanks.text

        page = await admin.get("/web/plan")
        assert "Manage subscription" in page.text
        manage = await admin.post("/web/plan/manage", data={"csrf": token})
        assert manage.status_code == 303
        assert manage.headers["location"].startswith("https://billing.stripe.test/")
        assert fake_stripe.requests[-1].form["customer"] == checkout.form["customer"]

    async with portal.signed_in(Role.MEMBER) as member:
        page = await member.get("/web/plan")
        assert page.status_code == 200 and "Free plan" in page.text
        assert "/web/plan/checkout" not in page.text and "/web/plan/manage" not in page.text
        assert "Only an admin of this calendar can change its plan." in page.text
        before = len(fake_stripe.requests)
        refused = await member.post(
            "/web/plan/checkout", data={"csrf": csrf_of(page.text), "plan": "pro"}
        )
        assert refused.status_code == 403 and "Admins only" in refused.text
        assert len(fake_stripe.requests) == before
