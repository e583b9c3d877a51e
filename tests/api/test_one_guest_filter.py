"""One guest filter, one meaning: every interface answers a filter with the same guests.

The same `GuestFilter` over the same cached guests gives the same guests in the catalog's
keyset pages (what the bot's /guests, /pending and /count run), the control API's list and
CSV export, the portal's browser, the streamed CSV, the bulk preview, and the bulk job's
Python predicate applied to the guests as Luma pages (`as_luma_guest`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.bulk_preview import as_luma_guest, preview_bulk
from catalog.guest_filter import GuestFilter
from catalog.guest_query import GuestSort, count_guests, guest_page, people_for, prepare
from catalog.guests import csv_chunks
from core.settings import Settings
from intel.vip import VipRules
from store import cache
from store.models import GuestProfile
from store.profiles import add_tag
from web.guest_query import GuestView, browse

EVENT = "evt-one-filter"
DOMAINS = ("acme.com", "gmail.com", "beta.io")
STATUSES = ("approved", "pending_approval", "declined", "waitlist")
RULES = VipRules.from_settings(Settings(_env_file=None))


def seeded_guest(i: int) -> dict[str, Any]:
    """Guest i: a mix of statuses, domains, companies (kept in the answers, as Luma does)
    and answers; guests 0, 5, 10... work at Acme Labs without an acme.com address."""
    email = f"p{i}@{DOMAINS[i % 3]}"
    company = "Acme Labs" if i % 5 == 0 else None if i % 5 == 1 else f"Co {i}"
    answers: list[dict[str, Any]] = []
    if company:
        answers.append({"label": "Company", "type": "company", "answer": company})
    if i % 4 == 0:
        answers += [
            {"label": "Dietary needs", "type": "text", "answer": "vegan"},
            {"label": "How did you hear about us?", "type": "text", "answer": "a friend"},
        ]
    elif i % 4 == 1:
        answers.append({"label": "Dietary needs", "type": "text", "answer": "none"})
    return {
        "luma_guest_id": f"gst-{i}",
        "email": email,
        "normalized_email": email,
        "email_domain": DOMAINS[i % 3],
        "name": f"Person {i:02d}",
        "approval_status": STATUSES[i % 4],
        "company": company,
        "registration_answers": answers,
        "is_paid": i % 6 == 0,
        "registered_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
    }


FILTERS: dict[str, GuestFilter] = {
    "everyone": GuestFilter(),
    "status": GuestFilter(statuses=["pending_approval"]),
    "domain": GuestFilter(domains=["@ACME.com"]),
    "search covers the company": GuestFilter(search="ACME"),
    "search by name": GuestFilter(search="person 1"),
    "answer to a named question": GuestFilter(answer_label="diet", answer_value="vegan"),
    "the word answer is no answer": GuestFilter(answer_label="diet", answer_value="answer"),
    "answered a question": GuestFilter(answer_label="hear"),
    "an answer without its question is ignored": GuestFilter(answer_value="vegan"),
    "tag": GuestFilter(tags=["speaker"]),
    "vip": GuestFilter(vip=True),
    "repeat": GuestFilter(repeat=True),
    "emails": GuestFilter(emails=["P1@acme.com", "p2@beta.io", "nobody@nowhere.example"]),
    "together": GuestFilter(statuses=["approved", "declined"], search="co", answer_label="diet"),
}


@pytest.fixture
async def seeded(sessions, tenant) -> list[dict[str, Any]]:
    org_id = tenant.org.org_id
    guests = [seeded_guest(i) for i in range(40)]
    async with sessions.begin() as session:
        await cache.upsert_events(
            session, org_id=org_id, events=[{"luma_event_id": EVENT, "name": "One Filter"}]
        )
        await cache.upsert_guests(session, org_id=org_id, luma_event_id=EVENT, guests=guests)
        for i, tag in ((2, "speaker"), (7, "speaker"), (4, "vip"), (9, "vip")):
            await add_tag(
                session,
                org_id=org_id,
                normalized_email=guests[i]["normalized_email"],
                tag=tag,
                user_id=None,
            )
        for i, registered, attended in ((1, 3, 0), (3, 2, 1), (6, 5, 5)):
            session.add(
                GuestProfile(
                    org_id=org_id,
                    normalized_email=guests[i]["normalized_email"],
                    events_registered=registered,
                    events_attended=attended,
                )
            )
    return guests


async def test_every_interface_gives_the_same_guests(sessions, tenant, seeded) -> None:
    org_id = tenant.org.org_id
    async with sessions() as session:
        cached = (
            await guest_page(
                session,
                await prepare(
                    session, org_id=org_id, event_id=EVENT, guest_filter=GuestFilter(), rules=RULES
                ),
                limit=100,
            )
        ).guests
    assert len(cached) == 40
    found: dict[str, set[str]] = {}
    for name, wanted in FILTERS.items():
        async with sessions() as session:
            query = await prepare(
                session, org_id=org_id, event_id=EVENT, guest_filter=wanted, rules=RULES
            )
            listed = await _walk(session, query)
            total = await count_guests(session, query)
            preview = await preview_bulk(
                session,
                org_id=org_id,
                event_id=EVENT,
                target_status="approved",
                guest_filter=wanted,
                rules=RULES,
            )
            people = await people_for(
                session,
                org_id=org_id,
                guest_filter=wanted,
                emails=[guest.normalized_email for guest in cached],
                rules=RULES,
            )
        exported = await _csv_emails(sessions, query)
        job = {guest.email for guest in cached if wanted.matches(as_luma_guest(guest), people)}
        assert listed == exported == job, name
        assert total == preview.matched == len(job), name
        assert preview.already == len(
            [g for g in cached if g.email in job and g.approval_status == "approved"]
        )
        portal = _view_of(wanted)
        if portal is not None:
            async with sessions() as session:
                shown = await browse(
                    session, org_id=org_id, event_id=EVENT, view=portal, rules=RULES, per_page=7
                )
            assert shown.total == len(job), name
            assert {g.email for g in shown.guests} <= job, name
        api = _api_params(wanted)
        if api is not None:
            page = await tenant.client.get(
                f"/v1/events/{EVENT}/guests", params={**api, "limit": 200}
            )
            assert {guest["email"] for guest in page.json()["guests"]} == job, name
            assert page.json()["total"] == len(job), name
            response = await tenant.client.get(f"/v1/events/{EVENT}/guests.csv", params=api)
            assert response.status_code == 200, response.text
            assert {row["email"] for row in csv.DictReader(io.StringIO(response.text))} == job
        found[name] = job

    everyone = {guest["email"] for guest in seeded}
    acme_labs = {g["email"] for g in seeded if g["company"] == "Acme Labs"}
    assert acme_labs - {e for e in everyone if e.endswith("@acme.com")}  # not by domain alone
    assert acme_labs <= found["search covers the company"]
    vegan = {g["email"] for i, g in enumerate(seeded) if i % 4 == 0}
    assert found["answer to a named question"] == vegan == found["answered a question"]
    assert found["the word answer is no answer"] == set()
    assert found["an answer without its question is ignored"] == everyone
    assert found["tag"] == {"p2@beta.io", "p7@gmail.com"}
    # The vip tag, the speaker tag (50 points each reach the threshold) and attendance.
    assert found["vip"] == {
        "p2@beta.io",
        "p4@gmail.com",
        "p6@acme.com",
        "p7@gmail.com",
        "p9@acme.com",
    }
    assert found["repeat"] == {"p1@gmail.com", "p3@acme.com", "p6@acme.com"}
    assert found["emails"] == {"p2@beta.io"}  # p1 is on gmail.com, not acme.com


async def test_preview_names_unknown_emails_and_refund_choices(sessions, tenant, seeded) -> None:
    async with sessions() as session:
        preview = await preview_bulk(
            session,
            org_id=tenant.org.org_id,
            event_id=EVENT,
            target_status="declined",
            guest_filter=FILTERS["emails"],
            rules=RULES,
        )
        paid = await preview_bulk(
            session,
            org_id=tenant.org.org_id,
            event_id=EVENT,
            target_status="declined",
            guest_filter=GuestFilter(statuses=["approved"]),
            rules=RULES,
        )
    assert preview.unknown_emails == ["P1@acme.com", "nobody@nowhere.example"]
    assert (preview.matched, preview.already, preview.to_change) == (1, 1, 0)  # p2 is declined
    approved = [g for i, g in enumerate(seeded) if i % 4 == 0]
    paid_ones = [g for g in approved if g["is_paid"]]
    assert paid.needs_refund_choice == len(paid_ones) > 0
    assert paid.to_change == len(approved) - len(paid_ones) == len(paid.sample)


async def _walk(session, query) -> set[str]:
    """Every guest through keyset pages of 7, newest first (as the bot's More button does)."""
    emails: list[str] = []
    cursor = None
    while True:
        page = await guest_page(
            session, query, sort=GuestSort("registered_at", desc=True), after=cursor, limit=7
        )
        emails += [guest.email for guest in page.guests]
        cursor = page.next_cursor
        if cursor is None:
            assert len(emails) == len(set(emails)) == page.total
            return set(emails)


async def _csv_emails(sessions, query) -> set[str]:
    text = "".join([chunk async for chunk in csv_chunks(sessions, query, rules=RULES, batch=6)])
    return {row["email"] for row in csv.DictReader(io.StringIO(text))}


def _view_of(wanted: GuestFilter) -> GuestView | None:
    """The portal's view of a filter, when its form can say it (one status, domain, tag)."""
    if wanted.emails or max(len(wanted.statuses), len(wanted.domains), len(wanted.tags)) > 1:
        return None
    return GuestView.from_params(
        {
            "q": wanted.search or "",
            "status": "".join(wanted.statuses),
            "domain": "".join(wanted.domains),
            "tag": "".join(wanted.tags),
            "vip": "1" if wanted.vip else "",
            "repeat": "1" if wanted.repeat else "",
            "question": wanted.answer_label or "",
            "answer": wanted.answer_value or "",
        }
    )


def _api_params(wanted: GuestFilter) -> dict[str, str] | None:
    """The API's query for a filter, when it can say it (one status, one domain, search)."""
    used = (wanted.emails, wanted.tags, wanted.vip, wanted.repeat, wanted.answer_label)
    if any(used) or wanted.answer_value or len(wanted.statuses) > 1 or len(wanted.domains) > 1:
        return None
    params: dict[str, str] = {}
    for key, value in (
        ("status", "".join(wanted.statuses)),
        ("domain", "".join(wanted.domains)),
        ("search", wanted.search or ""),
    ):
        if value:
            params[key] = value
    return params
