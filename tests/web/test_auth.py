"""Sign-in links, sessions, roles, CSRF and tenant isolation of the portal, over plain HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx

from store.models import Role, utcnow
from store.orgs import remove_member, set_role
from tests.api.conftest import synced_event
from tests.web.conftest import LOOSE_LIMITS, csrf_of, follow_signin
from web.auth import COOKIE, issue_signin_link

FORBIDDEN_WRITE = "Admins only"


async def test_signin_link_opens_a_session_once(portal) -> None:
    user_id = await portal.person(Role.ADMIN)
    link = await portal.link(user_id)
    assert link.startswith(f"{portal.url}/web/signin?t=")
    async with httpx.AsyncClient() as client:
        offer = await client.get(link)  # a page naming who and where; nothing signed in yet
        assert offer.status_code == 200 and "Sign in to Calendar " in offer.text
        assert client.cookies.get(COOKIE) is None
        first = await follow_signin(client, link)
        assert first.status_code == 303 and first.headers["location"] == "/web/events"
        cookie = first.headers["set-cookie"]
        assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/web" in cookie and "Secure" not in cookie  # development
        events = await client.get(f"{portal.url}/web/events")
        assert events.status_code == 200 and "<h1>Events</h1>" in events.text
    async with httpx.AsyncClient() as stranger:
        again = await stranger.get(link)
        assert again.status_code == 403 and "already used" in again.text
        # Login CSRF: another site's page posting someone's fresh link is refused.
        fresh = await portal.link(user_id)
        token = fresh.split("t=", 1)[1]
        forged = await stranger.post(
            f"{portal.url}/web/signin", data={"t": token}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert forged.status_code == 403 and not stranger.cookies.get(COOKIE)
        assert (await follow_signin(stranger, fresh)).status_code == 303  # the link still works
    assert COOKIE not in again.headers.get("set-cookie", "")


async def test_expired_forged_and_missing_links_are_refused(portal) -> None:
    user_id = await portal.person(Role.ADMIN)
    async with portal.sessions.begin() as session:
        expired = await issue_signin_link(
            session,
            settings=portal.settings,
            user_id=user_id,
            org_id=portal.org.org_id,
            now=utcnow() - timedelta(minutes=11),
        )
    fresh = await portal.link(user_id)
    forged_org = fresh.replace(f"t={portal.org.org_id}.", f"t={portal.org.org_id + 1}.")
    tampered = fresh[:-1] + ("0" if fresh[-1] != "0" else "1")
    async with httpx.AsyncClient() as client:
        assert "expired" in (await client.get(expired)).text
        for bad in (
            forged_org,
            tampered,
            f"{portal.url}/web/signin",
            f"{portal.url}/web/signin?t=x",
            f"{portal.url}/web/signin?t=1.2.3.4.é",  # not ASCII: refused, never a 500
        ):
            response = await client.get(bad)
            assert response.status_code == 403, bad
            assert "not one of ours" in response.text
        # The good link still works after all that.
        assert (await follow_signin(client, fresh)).status_code == 303


async def test_pages_need_a_session(portal) -> None:
    async with httpx.AsyncClient(base_url=portal.url) as client:
        for path in ("/web/events", "/web/jobs", "/web/team", "/web/key", "/web/automations"):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert "Send /web to the bot" in response.text
        client.cookies.set(COOKIE, "made-up", path="/web")
        assert (await client.get("/web/events")).status_code == 401


async def test_csrf_token_is_required_on_every_form(portal) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/key")
        token = csrf_of(page.text)
        for csrf in (None, "", "wrong-token", "ünïcode-token"):
            data = {"name": "ci"} if csrf is None else {"name": "ci", "csrf": csrf}
            refused = await admin.post("/web/key/tokens", data=data)
            assert refused.status_code == 403 and "out of date" in refused.text
        created = await admin.post("/web/key/tokens", data={"name": "ci", "csrf": token})
        assert created.status_code == 200 and 'id="new-token">lbt_' in created.text


async def test_members_read_but_cannot_write(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    async with portal.signed_in(Role.MEMBER) as member:
        guests = await member.get(f"/web/events/{event_id}/guests")
        assert guests.status_code == 200 and "Approve selected" not in guests.text
        token = csrf_of(guests.text)
        writes = [
            (f"/web/events/{event_id}/bulk", {"do": "approve:matching"}),
            (f"/web/events/{event_id}/bulk/start", {"do": "approve:matching"}),
            ("/web/key/tokens", {"name": "x"}),
            ("/web/key/replace", {"key": "not-a-real-key"}),
            ("/web/key/unlink", {"confirm": "on"}),
            ("/web/team/remove", {"user_id": str(member.user_id)}),
            ("/web/automations/sync", {"interval": "5"}),
        ]
        for path, data in writes:
            response = await member.post(path, data={**data, "csrf": token})
            assert response.status_code == 403, path
            assert FORBIDDEN_WRITE in response.text
    async with portal.sessions() as session:
        from store.orgs import get_role

        assert await get_role(session, org_id=portal.org.org_id, user_id=member.user_id)


async def test_another_orgs_urls_are_not_found(portal, simulator, automations, other_org) -> None:
    theirs = await synced_event(simulator, automations, other_org, guests=2)
    theirs_guest = simulator.state.calendar(other_org.calendar_id).events[theirs]
    email = next(iter(theirs_guest.guests.values())).person.email
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get("/web/events")).text)
        for path in (
            f"/web/events/{theirs}/guests",
            f"/web/events/{theirs}/guests.csv",
            f"/web/people/{email}",
            f"/web/jobs/sync-{other_org.org_id}",
            f"/web/jobs/sync-{other_org.org_id}/progress.json",
        ):
            response = await admin.get(path)
            assert response.status_code == 404, path
        for path, data in (
            (f"/web/events/{theirs}/bulk", {"do": "approve:matching"}),
            (f"/web/people/{email}/tags", {"tag": "vip"}),
            ("/web/org", {"org_id": str(other_org.org_id)}),
        ):
            response = await admin.post(path, data={**data, "csrf": token})
            assert response.status_code == 404, path


async def test_switching_org_and_losing_membership(portal, other_org) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:
        async with portal.sessions.begin() as session:
            await set_role(
                session, org_id=other_org.org_id, user_id=admin.user_id, role=Role.MEMBER
            )
        events = await admin.get("/web/events")
        token = csrf_of(events.text)
        assert 'id="org-switch"' in events.text
        switched = await admin.post(
            "/web/org", data={"org_id": str(other_org.org_id), "csrf": token}
        )
        assert switched.status_code == 303
        team = await admin.get("/web/team")
        assert '<span class="role">member</span>' in team.text
        async with portal.sessions.begin() as session:
            await remove_member(session, org_id=other_org.org_id, user_id=admin.user_id)
        assert (await admin.get("/web/team")).status_code == 401


async def test_production_cookies_are_secure(portal) -> None:
    from api.deps import ApiDeps
    from api.main import create_app
    from web.deps import WebDeps

    production = portal.settings.model_copy(update={"environment": "production"})
    web = WebDeps(production, None)  # type: ignore[arg-type]
    deps = ApiDeps(portal.sessions, portal.automations)
    app = create_app(production, deps=deps, web=web, limits=LOOSE_LIMITS)
    link = await portal.link(await portal.person(Role.MEMBER))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="https://portal.test"
        ) as client,
    ):
        response = await follow_signin(client, link.replace(portal.url, "https://portal.test"))
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_sign_out_ends_the_session(portal) -> None:
    async with portal.signed_in(Role.MEMBER) as member:
        token = csrf_of((await member.get("/web/events")).text)
        cookie = member.cookies.get(COOKIE)
        out = await member.post("/web/signout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/web/signed-out"
        member.cookies.set(COOKIE, cookie, path="/web")  # a copied cookie is dead too
        assert (await member.get("/web/events")).status_code == 401
