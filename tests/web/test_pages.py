"""The portal's writes over HTTP: CSV export, selected-guest bulk jobs, job control, automations
(Temporal Schedules), team, Luma key (verified with get-self) and API tokens."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from catalog.guest_filter import GuestFilter
from intel.approval_policy import Action, Rule
from luma import identity_key
from services import policies
from services.automations import Automations
from services.caller import Caller
from store.models import (
    AuditEntry,
    AutomationSettings,
    Chat,
    Guest,
    Organization,
    PolicyDecision,
    Role,
    User,
)
from store.orgs import get_role, link_chat, save_org
from store.profiles import add_tag
from tests.api.conftest import synced_event
from tests.conftest import eventually
from tests.web.conftest import csrf_of
from workflows import ids


async def test_csv_export_is_the_current_view(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        portal.org,
        guests=30,
        status_mix={"pending_approval": 0.5, "approved": 0.5},
    )
    guests = simulator.state.calendar(portal.org.calendar_id).events[event_id].guests.values()
    tagged = min(g.person.email for g in guests if g.approval_status == "pending_approval")
    async with portal.sessions.begin() as session:
        await add_tag(
            session,
            org_id=portal.org.org_id,
            normalized_email=identity_key(tagged),
            tag="speaker",
            user_id=None,
        )
    async with portal.signed_in(Role.MEMBER) as member:
        response = await member.get(
            f"/web/events/{event_id}/guests.csv?status=approved&sort=email&desc=1"
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 15 and {row["approval_status"] for row in rows} == {"approved"}
        emails = [row["email"] for row in rows]
        assert emails == sorted(emails, reverse=True)
        by_tag = await member.get(f"/web/events/{event_id}/guests.csv?tag=speaker")
        [row] = list(csv.DictReader(io.StringIO(by_tag.text)))
        assert row["email"] == tagged and row["tags"] == "speaker" and row["vip_score"] == "50"
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(f"/web/events/{event_id}/guests")).text)
        confirm = await admin.post(
            f"/web/events/{event_id}/bulk",
            data={"csrf": token, "do": "approve:matching", "f_tag": "speaker"},
        )
        assert 'id="confirm-matched">1<' in confirm.text  # the job's own #tag filter
        assert "every guest matching the filter" in confirm.text
        unfiltered = await admin.post(
            f"/web/events/{event_id}/bulk", data={"csrf": token, "do": "approve:matching"}
        )
        assert "every guest of the event (no filter is set)" in unfiltered.text


async def test_bulk_on_selected_guests_and_job_control(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=6, status_mix={"pending_approval": 1.0}
    )
    guests = list(simulator.state.calendar(portal.org.calendar_id).events[event_id].guests.values())
    chosen = sorted(guest.person.email for guest in guests[:2])
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get(f"/web/events/{event_id}/guests")
        token = csrf_of(page.text)
        form = {"csrf": token, "do": "decline:selected", "email": [*chosen, "stranger@example.com"]}
        confirm = await admin.post(f"/web/events/{event_id}/bulk", data=form)
        assert confirm.status_code == 200
        assert 'id="confirm-matched">2<' in confirm.text  # the stranger is not on the list
        nothing = await admin.post(
            f"/web/events/{event_id}/bulk", data={"csrf": token, "do": "decline:selected"}
        )
        assert nothing.status_code == 400 and "No guests selected" in nothing.text
        started = await admin.post(f"/web/events/{event_id}/bulk/start", data=form)
        assert started.status_code == 303
        job_url = started.headers["location"]
        await automations.bulk_handle(job_url.rsplit("/", 1)[1]).result()
        declined = {g.person.email for g in guests if g.approval_status == "declined"}
        assert declined == set(chosen)
        progress = (await admin.get(f"{job_url}/progress.json")).json()
        assert progress["status"] == "completed" and progress["progress"]["done"] == 2
        late = await admin.post(f"{job_url}/pause", data={"csrf": token})
        assert late.status_code == 409 and "no longer running" in late.text
    async with portal.sessions() as session:
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.org_id == portal.org.org_id, AuditEntry.source == "web"
                )
            )
        )
    assert {"web_signin", "bulk_declined_started"} <= actions


async def test_automations_update_the_schedules(portal) -> None:
    chat_id = -(10**12) - uuid.uuid4().int % 10**9
    async with portal.signed_in(Role.ADMIN) as admin:
        async with portal.sessions.begin() as session:
            await link_chat(
                session,
                chat_id=chat_id,
                org_id=portal.org.org_id,
                kind="supergroup",
                title="Ops",
                linked_by=admin.user_id,
            )
        token = csrf_of((await admin.get("/web/automations")).text)
        form = {
            "csrf": token,
            "chat_id": str(chat_id),
            "digest": "on",
            "time": "07:30",
            "timezone": "Europe/Lisbon",
            "summary": "on",
            "summary_delay": "45",
        }
        bad = await admin.post("/web/automations/chat", data={**form, "timezone": "Mars/Base"})
        assert bad.status_code == 400 and "Check the digest settings" in bad.text
        assert not await portal.automations.schedule_exists(ids.digest_schedule_id(chat_id))
        saved = await admin.post("/web/automations/chat", data=form)
        assert saved.status_code == 303
        assert await portal.automations.schedule_exists(ids.digest_schedule_id(chat_id))
        interval = await admin.post("/web/automations/sync", data={"csrf": token, "interval": "5"})
        assert interval.status_code == 303
        assert await portal.automations.schedule_exists(ids.sync_schedule_id(portal.org.org_id))
        off = await admin.post("/web/automations/chat", data={**form, "digest": ""})
        assert off.status_code == 303
        assert not await portal.automations.schedule_exists(ids.digest_schedule_id(chat_id))
        page = await admin.get("/web/automations")
        assert 'value="Europe/Lisbon"' in page.text and 'value="45"' in page.text
    async with portal.sessions() as session:
        settings = await session.get(AutomationSettings, chat_id)
        org = await session.get(Organization, portal.org.org_id)
    assert settings is not None and settings.summary_delay_minutes == 45
    assert org is not None and org.sync_interval_minutes == 5
    await portal.automations.clear_digest(chat_id)


async def test_team_and_tokens(portal) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:
        member = await portal.person(Role.MEMBER)
        token = csrf_of((await admin.get("/web/team")).text)
        promoted = await admin.post(
            "/web/team/role", data={"csrf": token, "user_id": str(member), "role": "admin"}
        )
        assert promoted.status_code == 303
        removed = await admin.post("/web/team/remove", data={"csrf": token, "user_id": str(member)})
        assert removed.status_code == 303
        async with portal.sessions() as session:
            assert await get_role(session, org_id=portal.org.org_id, user_id=member) is None
        gone = await admin.post("/web/team/remove", data={"csrf": token, "user_id": str(member)})
        assert gone.status_code == 404

        created = await admin.post("/web/key/tokens", data={"csrf": token, "name": "ci"})
        plaintext = created.text.split('id="new-token">')[1].split("<")[0]
        async with portal.sessions() as session:
            from store.tokens import list_tokens

            row = next(t for t in await list_tokens(session, org_id=portal.org.org_id))
        revoked = await admin.post(
            "/web/key/tokens/revoke", data={"csrf": token, "token_id": str(row.id)}
        )
        assert revoked.status_code == 303
        api = await admin.get(
            f"{portal.url}/v1/events", headers={"Authorization": f"Bearer {plaintext}"}
        )
        assert api.status_code == 401


async def test_last_admin_cannot_be_removed(portal) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:  # the org's only admin
        token = csrf_of((await admin.get("/web/team")).text)
        refused = await admin.post(
            "/web/team/remove", data={"csrf": token, "user_id": str(admin.user_id)}
        )
        assert refused.status_code == 409 and "last admin" in refused.text
        demoted = await admin.post(
            "/web/team/role",
            data={"csrf": token, "user_id": str(admin.user_id), "role": "member"},
        )
        assert demoted.status_code == 409 and "last admin" in demoted.text


async def test_replacing_and_unlinking_the_luma_key(
    portal, other_org, simulator, pool, keybox
) -> None:
    # Linked the way the bot links: the org is keyed on the key's calendar.
    calendar = simulator.state.add_calendar(f"Keyed {uuid.uuid4().hex[:6]}")
    async with portal.sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=calendar.id,
            name="Keyed",
            luma_key=calendar.api_key,
            keybox=keybox,
        )
        org_id = org.id
    async with portal.signed_in(Role.ADMIN, org_id) as admin:
        async with portal.sessions.begin() as session:
            await link_chat(
                session,
                chat_id=-(10**12) - uuid.uuid4().int % 10**9,
                org_id=org_id,
                kind="group",
                title="Team",
                linked_by=admin.user_id,
            )
        token = csrf_of((await admin.get("/web/key")).text)
        for key, message in (
            ("short", "does not look like a Luma API key"),
            ("secret-sim-not-a-real-key-at-all", "Luma rejected this key"),
            (other_org.api_key, "belongs to another Luma calendar"),
        ):
            refused = await admin.post("/web/key/replace", data={"csrf": token, "key": key})
            assert refused.status_code in (400, 502) and message in refused.text, key
        replaced = await admin.post(
            "/web/key/replace", data={"csrf": token, "key": calendar.api_key}
        )
        assert replaced.status_code == 303
        assert "Key verified" in (await admin.get("/web/key?replaced=1")).text
        unticked = await admin.post("/web/key/unlink", data={"csrf": token})
        assert unticked.status_code == 400
        unlinked = await admin.post("/web/key/unlink", data={"csrf": token, "confirm": "on"})
        assert unlinked.status_code == 303
    async with portal.sessions() as session:
        chats = await session.scalars(select(Chat).where(Chat.org_id == org_id))
        assert chats.all() == []
    assert not await portal.automations.schedule_exists(ids.sync_schedule_id(org_id))


async def test_an_organization_key_replaces_the_key_of_a_calendar_it_opens(
    portal, simulator, keybox
) -> None:
    """The portal takes the key of the calendar's Luma organization, and refuses, with the
    calendars it does open, one of another organization."""
    organization = simulator.state.add_organization(f"Org {uuid.uuid4().hex[:6]}", calendars=2)
    elsewhere = simulator.state.add_organization(f"Elsewhere {uuid.uuid4().hex[:6]}", calendars=1)
    calendar = organization.calendars[1]
    async with portal.sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=calendar.id,
            name=calendar.name,
            luma_key=calendar.api_key,
            keybox=keybox,
        )
        org_id = org.id
    async with portal.signed_in(Role.ADMIN, org_id) as admin:
        token = csrf_of((await admin.get("/web/key")).text)
        refused = await admin.post(
            "/web/key/replace", data={"csrf": token, "key": elsewhere.api_key}
        )
        assert refused.status_code == 400 and "Not this calendar" in refused.text
        assert "does not open" in refused.text and elsewhere.calendars[0].name in refused.text
        replaced = await admin.post(
            "/web/key/replace", data={"csrf": token, "key": organization.api_key}
        )
        assert replaced.status_code == 303
        assert "its Luma organization's key" in (await admin.get("/web/key")).text
    async with portal.sessions() as session:
        stored = await session.get(Organization, org_id)
        assert stored is not None and stored.key_kind == "organization"
        assert stored.key_fingerprint == "…" + organization.api_key[-4:]


async def test_statuses_are_words_not_lumas_labels(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        portal.org,
        guests=4,
        status_mix={"pending_approval": 0.5, "session": 0.5},
    )
    async with portal.signed_in(Role.MEMBER) as member:
        page = (await member.get(f"/web/events/{event_id}/guests")).text
        assert '">pending</span>' in page and '">joined session</span>' in page
        assert 'value="pending_approval">pending</option>' in page  # the filter's option
        assert ">pending_approval<" not in page and ">session<" not in page
        events = (await member.get("/web/events")).text
        assert "pending 2" in events and "pending_approval" not in events


async def test_jobs_name_the_event_the_action_and_who_asked(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        portal.org,
        name="Jobs Night",
        guests=2,
        status_mix={"pending_approval": 1.0},
    )
    async with portal.signed_in(Role.ADMIN) as admin:
        async with portal.sessions.begin() as session:
            user = await session.get(User, admin.user_id)
            assert user is not None
            user.full_name = "Ada Organizer"
        token = csrf_of((await admin.get(f"/web/events/{event_id}/guests")).text)
        form = {"csrf": token, "do": "approve:matching", "f_status": "pending_approval"}
        started = await admin.post(f"/web/events/{event_id}/bulk/start", data=form)
        job_id = started.headers["location"].rsplit("/", 1)[1]
        await automations.bulk_handle(job_id).result()

        async def listed() -> str | None:
            page = (await admin.get("/web/jobs")).text
            return page if "Jobs Night" in page else None

        page = await eventually(listed, timeout=15)
        assert page is not None
        row = page.split('class="job-action">Bulk status change</a>')[1].split("</tr>")[0]
        assert ">Jobs Night</a>" in row and "Ada Organizer" in row
        assert f">{job_id}<" not in page  # the raw workflow id is a link target, not the text
        detail = (await admin.get(f"/web/jobs/{job_id}")).text
        assert "<h1>Bulk status change: Jobs Night</h1>" in detail
        assert "Asked by Ada Organizer" in detail
        # No way into the Temporal UI, which shows every tenant's runs.
        for html in (page, detail):
            assert "/namespaces/" not in html and "Temporal UI" not in html


async def test_times_are_in_the_zone_of_the_orgs_chats(portal, simulator, automations) -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    await synced_event(simulator, automations, portal.org, name="Zone Night", start_at=start)
    async with portal.signed_in(Role.MEMBER) as member:
        utc_page = (await member.get("/web/events")).text
        assert "2030-01-01 12:00 UTC" in utc_page
        assert 'id="time-zone">Times are shown in UTC' in utc_page
        chat_id = -(10**12) - uuid.uuid4().int % 10**9
        async with portal.sessions.begin() as session:
            await link_chat(
                session,
                chat_id=chat_id,
                org_id=portal.org.org_id,
                kind="supergroup",
                title="Dubai team",
                linked_by=member.user_id,
            )
            chat = await session.get(Chat, chat_id)
            assert chat is not None
            chat.timezone = "Asia/Dubai"  # as /digest … Asia/Dubai sets it in the bot
        page = (await member.get("/web/events")).text
        assert "2030-01-01 16:00 +04" in page and "12:00 UTC" not in page
        assert 'id="time-zone">Times are shown in Asia/Dubai.' in page


async def test_job_control_without_a_worker_says_so(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=2, status_mix={"pending_approval": 1.0}
    )
    orphaned = Automations(  # a task queue no worker serves (every worker down)
        automations.client, replace(automations.defaults, task_queue=f"none-{uuid.uuid4().hex}")
    )
    job = await orphaned.start_bulk(
        org_id=portal.org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    try:
        async with portal.signed_in(Role.ADMIN) as admin:
            token = csrf_of((await admin.get(f"/web/events/{event_id}/guests")).text)
            refused = await admin.post(f"/web/jobs/{job.workflow_id}/pause", data={"csrf": token})
        assert refused.status_code == 503
        assert "Not available right now" in refused.text
        assert "No automation worker is running" in refused.text
    finally:
        await automations.handle(job.workflow_id).terminate()


async def test_an_admin_deletes_the_calendar_and_all_its_data(
    portal, simulator, automations
) -> None:
    event_id = await synced_event(simulator, automations, portal.org, guests=4)
    async with portal.signed_in(Role.MEMBER) as member:
        token = csrf_of((await member.get("/web/key")).text)
        refused = await member.post("/web/key/delete", data={"csrf": token, "name": "x"})
        assert refused.status_code == 403
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/key")
        token = csrf_of(page.text)
        wrong = await admin.post("/web/key/delete", data={"csrf": token, "name": "Not it"})
        assert wrong.status_code == 422 and "the calendar&#39;s name exactly" in wrong.text
        async with portal.sessions() as session:
            org = await session.get(Organization, portal.org.org_id)
            assert org is not None
            name = org.name
        done = await admin.post("/web/key/delete", data={"csrf": token, "name": name})
        assert done.status_code == 200 and "Calendar deleted" in done.text
        assert (await admin.get("/web/events")).status_code == 401  # the session went too
    async with portal.sessions() as session:
        assert await session.get(Organization, portal.org.org_id) is None
        left = await session.scalar(
            select(func.count()).select_from(Guest).where(Guest.luma_event_id == event_id)
        )
        assert left == 0


async def test_policy_page_shows_rules_test_and_decisions(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=6, status_mix={"pending_approval": 1.0}
    )
    pending = list(
        simulator.state.calendar(portal.org.calendar_id).events[event_id].guests.values()
    )
    domain = pending[0].person.email.rsplit("@", 1)[1]
    caller = Caller(portal.org.org_id, Role.ADMIN, "api", 1)
    async with portal.sessions.begin() as session:
        await policies.set_rules(
            caller,
            session,
            event_id=event_id,
            rules=[Rule(action=Action.APPROVE, domains=[domain])],
        )
        session.add(
            PolicyDecision(
                org_id=portal.org.org_id,
                luma_event_id=event_id,
                luma_guest_id="gst-logged",
                email="logged@example.com",
                action="hold",
                reason="no rule matched: held for review",
                mode="auto",
                state="held",
            )
        )
    async with portal.signed_in(Role.MEMBER) as member:
        shown = await member.get(f"/web/events/{event_id}/policy")
        assert shown.status_code == 200
        assert (
            f"approve email at {domain}" in shown.text
            and "Mode: <strong>off</strong>" in shown.text
        )
        assert "logged@example.com" in shown.text and "held" in shown.text
        tested = await member.get(f"/web/events/{event_id}/policy?test=1")
        assert f"Test: {len(pending)} pending guest(s), nothing written" in tested.text
        assert f"rule 1: approve email at {domain}" in tested.text
        assert (await member.get("/web/events/evt-NotOurs12345/policy")).status_code == 404
    assert not [w for w in simulator.state.writes if w.endpoint == "update-guest-status"]
