"""Guest pages, CSV export, one guest's status, bulk jobs (dry run and real)."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest
from sqlalchemy import select

from store.models import AuditEntry
from tests.api.conftest import error_of, synced_event


def statuses(simulator, event_id: str) -> Counter[str]:
    return Counter(g.approval_status for g in simulator.state.event(event_id).guests.values())


async def test_pages_filters_and_cursor(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        guests=45,
        status_mix={"approved": 0.6, "pending_approval": 0.4},
    )
    url = f"/v1/events/{event_id}/guests"
    seen, cursor = [], None
    while True:
        params = {"limit": 20, "sort": "email"} | ({"cursor": cursor} if cursor else {})
        page = (await tenant.client.get(url, params=params)).json()
        assert page["total"] == 45
        seen += [guest["email"] for guest in page["guests"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 45 and seen == sorted(seen)

    pending = (await tenant.client.get(url, params={"status": "pending_approval"})).json()
    assert pending["total"] == 18
    assert {guest["approval_status"] for guest in pending["guests"]} == {"pending_approval"}
    first = pending["guests"][0]
    domain = first["email"].split("@")[1]
    by_domain = (await tenant.client.get(url, params={"domain": "@" + domain.upper()})).json()
    assert by_domain["guests"] and all(g["email"].endswith(domain) for g in by_domain["guests"])
    found = (await tenant.client.get(url, params={"search": first["name"][:6]})).json()
    assert first["id"] in {guest["id"] for guest in found["guests"]}

    bad = await tenant.client.get(url, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "cursor" in error_of(bad)["message"]
    wrong_status = await tenant.client.get(url, params={"status": "maybe"})
    assert wrong_status.status_code == 422 and "status" in error_of(wrong_status)["message"]


async def test_csv_export_streams_every_guest(tenant, simulator, automations) -> None:
    event_id = simulator.state.add_event(tenant.org.calendar_id, guests=2100)
    victim = next(iter(simulator.state.event(event_id).guests.values()))
    victim.person.first_name = "=HYPERLINK(1)"
    await (await automations.sync_now(tenant.org.org_id)).result()

    response = await tenant.client.get(f"/v1/events/{event_id}/guests.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"guests-{event_id}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2100  # three keyset pages of 1,000
    assert len({row["email"] for row in rows}) == 2100
    names = {row["name"] for row in rows}
    assert "'=HYPERLINK(1) " + victim.person.last_name in names  # formula neutralized

    approved = await tenant.client.get(
        f"/v1/events/{event_id}/guests.csv", params={"status": "approved"}
    )
    approved_rows = list(csv.DictReader(io.StringIO(approved.text)))
    assert approved_rows and {row["approval_status"] for row in approved_rows} == {"approved"}


async def test_one_guest_status(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    url = f"/v1/events/{event_id}/guests/{guest.person.email.upper()}/status"
    response = await tenant.client.post(url, json={"status": "approved"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["before"], result["after"], result["changed"]) == (
        "pending_approval",
        "approved",
        True,
    )
    assert result["email"].lower() == guest.person.email and result["name"] == guest.person.name
    assert guest.approval_status == "approved"
    listed = await tenant.client.get(f"/v1/events/{event_id}/guests", params={"status": "approved"})
    assert [g["id"] for g in listed.json()["guests"]] == [guest.id]  # cache updated too


async def test_one_guest_refusals_change_nothing(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        guests=2,
        status_mix={"approved": 1.0},
        paid_share=1.0,
    )
    paid = next(iter(simulator.state.event(event_id).guests.values()))
    writes = len(simulator.state.writes)
    base = f"/v1/events/{event_id}/guests"

    invalid = await tenant.client.post(f"{base}/not-an-email/status", json={"status": "approved"})
    assert invalid.status_code == 422 and "not a valid email" in error_of(invalid)["message"]
    refund = await tenant.client.post(
        f"{base}/{paid.person.email}/status", json={"status": "declined"}
    )
    assert refund.status_code == 409 and "refund" in error_of(refund)["message"]
    stranger = await tenant.client.post(
        f"{base}/stranger@example.org/status", json={"status": "approved"}
    )
    assert stranger.status_code == 409 and "no such" in error_of(stranger)["message"]
    odd = await tenant.client.post(f"{base}/{paid.person.email}/status", json={"status": "maybe"})
    assert odd.status_code == 422 and "status" in error_of(odd)["message"]
    assert len(simulator.state.writes) == writes

    declined = await tenant.client.post(
        f"{base}/{paid.person.email}/status", json={"status": "declined", "should_refund": True}
    )
    assert declined.status_code == 200 and declined.json()["changed"]
    assert simulator.state.writes[-1].should_refund is True


async def test_bulk_dry_run_then_real(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        guests=40,
        status_mix={"pending_approval": 0.5, "approved": 0.25, "waitlist": 0.25},
    )
    url = f"/v1/events/{event_id}/bulk-status"
    writes = len(simulator.state.writes)
    body = {
        "target_status": "approved",
        "filter": {"statuses": ["pending_approval", "approved"]},
        "dry_run": True,
    }
    preview = await tenant.client.post(url, json=body)
    assert preview.status_code == 200, preview.text
    figures = preview.json()
    assert (figures["matched"], figures["to_change"], figures["already"]) == (30, 20, 10)
    assert len(figures["sample"]) == 10 and figures["cache_synced_at"]
    assert {g["approval_status"] for g in figures["sample"]} == {"pending_approval"}
    assert len(simulator.state.writes) == writes  # a dry run writes nothing

    started = await tenant.client.post(url, json=body | {"dry_run": False})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["workflow_id"].startswith(f"bulk-{tenant.org.org_id}-{event_id}-approved-")
    assert job["web_url"].endswith(f"/web/jobs/{job['workflow_id']}")  # the portal, not Temporal
    report = await automations.bulk_handle(job["workflow_id"]).result()
    assert (report.total, report.done, report.skipped) == (30, 20, 10)
    assert statuses(simulator, event_id) == {"approved": 30, "waitlist": 10}


async def test_bulk_preview_matches_by_email_and_answer(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        guests=12,
        status_mix={"pending_approval": 1.0},
        paid_share=0.5,
    )
    guests = list(simulator.state.event(event_id).guests.values())
    emails = [guests[0].person.email.upper(), guests[1].person.email, "nobody@nowhere.example"]
    url = f"/v1/events/{event_id}/bulk-status"
    by_email = await tenant.client.post(
        url,
        json={"target_status": "declined", "filter": {"emails": emails}, "dry_run": True},
    )
    figures = by_email.json()
    assert figures["matched"] == 2 and figures["unknown_emails"] == ["nobody@nowhere.example"]
    paid = sum(1 for g in guests[:2] if g.paid)
    assert figures["needs_refund_choice"] == paid and figures["to_change"] == 2 - paid

    # The seeded data leaves some people without a company: ask about one who has it.
    company = next(g.person.company for g in guests if g.answered and g.person.company)
    by_answer = await tenant.client.post(
        url,
        json={
            "target_status": "approved",
            "filter": {"answer_label": "company", "answer_value": company.lower()},
            "dry_run": True,
        },
    )
    expected = sum(1 for g in guests if g.answered and g.person.company == company)
    assert by_answer.json()["matched"] == expected >= 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_status": "waitlist"}, "target_status"),
        ({"target_status": "approved", "filter": {"statuses": ["nope"]}}, "statuses"),
        ({"target_status": "approved", "filter": {"answer_value": "x"}}, "answer_label"),
        # A blank question would otherwise name no question and match every guest.
        ({"target_status": "declined", "filter": {"answer_label": "   "}}, "answer_label"),
        ({"target_status": "approved", "filter": {"emails": ["a@b.c"] * 1001}}, "emails"),
        ({"target_status": "approved", "surprise": True}, "surprise"),
        # No filter changes nothing: as in the bot, say which guests or ask for all of them.
        ({"target_status": "approved"}, '"all": true'),
        ({"target_status": "approved", "filter": {}, "dry_run": True}, '"all": true'),
        ({"target_status": "approved", "all": False}, '"all": true'),
        (
            {"target_status": "approved", "all": True, "filter": {"statuses": ["pending"]}},
            "leave the filter out",
        ),
        ({"target_status": "approved", "all": 1}, "all"),
    ],
)
async def test_bulk_bad_input_starts_nothing(tenant, simulator, automations, body, field) -> None:
    event_id = await synced_event(simulator, automations, tenant.org, guests=3)
    response = await tenant.client.post(f"/v1/events/{event_id}/bulk-status", json=body)
    assert response.status_code == 422
    assert field in error_of(response)["message"]

    async def bulk_jobs() -> list[str]:
        jobs = (await tenant.client.get("/v1/jobs")).json()["jobs"]
        return [job["kind"] for job in jobs if job["kind"] == "bulk"]

    assert await bulk_jobs() == []


async def test_bulk_asked_twice_runs_once_counted_once_audited_twice(
    tenant, simulator, automations, sessions
) -> None:
    """The API is an adapter over `services.bulk`: the same job, usage counted for the new
    one only, and an audit row per request under the source "api"."""
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=5, status_mix={"pending_approval": 1.0}
    )
    url = f"/v1/events/{event_id}/bulk-status"
    simulator.state.configure(latency_seconds=0.3)
    try:
        first = await tenant.client.post(url, json={"target_status": "approved", "all": True})
        second = await tenant.client.post(url, json={"target_status": "approved", "all": True})
    finally:
        simulator.state.configure(latency_seconds=0.0)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["workflow_id"] == second.json()["workflow_id"]
    assert (first.json()["already_running"], second.json()["already_running"]) == (False, True)
    await automations.bulk_handle(first.json()["workflow_id"]).result()
    usage = (await tenant.client.get("/v1/usage")).json()
    assert usage["used"]["bulk_guests"] == 5
    # The job list names the job as people would: action, event, who asked.
    job = next(
        job
        for job in (await tenant.client.get("/v1/jobs")).json()["jobs"]
        if job["workflow_id"] == first.json()["workflow_id"]
    )
    assert job["action"] == "Bulk status change"
    assert job["event_id"] == event_id and job["event_name"]
    assert job["status"] == "completed"
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.org_id == tenant.org.org_id,
                AuditEntry.action == "bulk_approved_started",
            )
            .order_by(AuditEntry.id)
        )
        assert [(e.source, e.result) for e in rows] == [
            ("api", "started"),
            ("api", "already running"),
        ]


async def test_bulk_all_means_everyone_and_bot_status_words_work(
    tenant, simulator, automations
) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        guests=20,
        status_mix={"pending_approval": 0.5, "waitlist": 0.25, "approved": 0.25},
    )
    url = f"/v1/events/{event_id}/bulk-status"
    everyone = await tenant.client.post(
        url, json={"target_status": "approved", "all": True, "dry_run": True}
    )
    assert everyone.status_code == 200, everyone.text
    assert (everyone.json()["matched"], everyone.json()["to_change"]) == (20, 15)

    # The bot's words: `pending` is Luma's `pending_approval`, `waitlisted` its `waitlist`.
    words = await tenant.client.post(
        url,
        json={
            "target_status": "approved",
            "filter": {"statuses": ["pending", "Waitlisted"]},
            "dry_run": True,
        },
    )
    assert words.status_code == 200, words.text
    assert words.json()["matched"] == 15
    listed = await tenant.client.get(f"/v1/events/{event_id}/guests", params={"status": "pending"})
    assert listed.status_code == 200, listed.text
    assert {g["approval_status"] for g in listed.json()["guests"]} == {"pending_approval"}

    started = await tenant.client.post(url, json={"target_status": "approved", "all": True})
    assert started.status_code == 202, started.text
    report = await automations.bulk_handle(started.json()["workflow_id"]).result()
    assert (report.total, report.done, report.skipped) == (20, 15, 5)
    assert statuses(simulator, event_id) == {"approved": 20}
