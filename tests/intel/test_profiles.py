"""Unified profiles: one person across addresses and events; company; tags, notes, VIP score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from activities.sync import guest_row
from core.settings import Settings
from intel.people import insights_for
from intel.vip import PersonFacts, VipRules, score
from luma import LumaGuest
from store import cache, orgs
from store.profiles import add_note, add_tag, get_profile, refresh_profiles, tagged_emails

NOW = datetime.now(UTC)


def luma_guest(guest_id: str, email: str, status: str, **extra: Any) -> dict[str, Any]:
    """A guest as Luma sends it, turned into a cache row by the sync's own `guest_row`."""
    payload = {"id": guest_id, "email": email, "approval_status": status, **extra}
    return guest_row(LumaGuest.model_validate(payload))


def answers(company: str) -> list[dict[str, Any]]:
    return [{"label": "Company name", "question_type": "company", "answer": company}]


async def new_org(session, keybox, unique: str, tag: str = "a"):
    return await orgs.save_org(
        session,
        calendar_id=f"cal-intel-{tag}-{unique}",
        name="Intel",
        luma_key=f"secret-intel-{tag}-{unique}",
        keybox=keybox,
    )


async def seed_events(session, org_id: int) -> None:
    await cache.upsert_events(session, org_id=org_id, events=[
        {"luma_event_id": f"evt-{n}", "name": f"Event {n}",
         "start_at": NOW - timedelta(days=40 - n),
         "end_at": NOW - timedelta(days=40 - n) + timedelta(hours=3)}
        for n in range(1, 4)
    ] + [{"luma_event_id": "evt-next", "name": "Next", "start_at": NOW + timedelta(days=5),
          "end_at": NOW + timedelta(days=5, hours=2)}])  # fmt: skip


async def test_one_person_across_case_plus_and_gmail_dots(sessions, keybox, unique) -> None:
    async with sessions.begin() as session:
        org = await new_org(session, keybox, unique)
        await seed_events(session, org.id)
        checked = (NOW - timedelta(days=39)).isoformat()
        rows = {
            "evt-1": [luma_guest("g1", "Jane.Doe@Gmail.com", "approved", checked_in_at=checked,
                                 registered_at=(NOW - timedelta(days=50)).isoformat(),
                                 user_name="Jane D", registration_answers=answers("Acme"))],
            "evt-2": [luma_guest("g2", "janedoe+events@googlemail.com", "approved",
                                 registered_at=(NOW - timedelta(days=45)).isoformat(),
                                 user_name="Jane Doe")],
            "evt-3": [luma_guest("g3", "JANE.DOE+VIP@GMAIL.COM", "declined",
                                 registered_at=(NOW - timedelta(days=44)).isoformat())],
            "evt-next": [luma_guest("g4", "j.a.n.e.d.o.e@gmail.com", "pending_approval",
                                    registered_at=(NOW - timedelta(days=1)).isoformat()),
                         luma_guest("g5", "bob@Initech.io", "approved"),
                         luma_guest("g6", "carla@yahoo.com", "approved")],
        }  # fmt: skip
        for event_id, guests in rows.items():
            await cache.upsert_guests(session, org_id=org.id, luma_event_id=event_id, guests=guests)
        assert await refresh_profiles(session, org_id=org.id) == 3

    async with sessions() as session:
        jane = await get_profile(session, org_id=org.id, normalized_email="janedoe@gmail.com")
        bob = await get_profile(session, org_id=org.id, normalized_email="bob@initech.io")
        carla = await get_profile(session, org_id=org.id, normalized_email="carla@yahoo.com")
    assert jane is not None and bob is not None and carla is not None
    assert (jane.events_registered, jane.events_approved, jane.events_attended) == (4, 2, 1)
    assert jane.no_shows == 1  # approved for evt-2, which is over, never checked in
    assert jane.name == "Jane Doe"  # the latest name given
    assert (jane.company, jane.company_source) == ("Acme", "answers")
    assert (bob.company, bob.company_source) == ("initech.io", "domain")
    assert (carla.company, carla.company_source) == (None, None)  # free mail says nothing


async def test_person_refresh_and_vanished_people(sessions, keybox, unique) -> None:
    async with sessions.begin() as session:
        org = await new_org(session, keybox, unique)
        await seed_events(session, org.id)
        await cache.upsert_guests(session, org_id=org.id, luma_event_id="evt-1", guests=[
            luma_guest("g1", "ana@acme.com", "approved"),
            luma_guest("g2", "bo@acme.com", "approved"),
        ])  # fmt: skip
        await refresh_profiles(session, org_id=org.id)
        # A webhook names Ana at a second event: only her profile is rebuilt.
        await cache.upsert_guests(session, org_id=org.id, luma_event_id="evt-2", guests=[
            luma_guest("g3", "Ana+news@acme.com", "approved"),
        ])  # fmt: skip
        assert await refresh_profiles(session, org_id=org.id, emails=["ana@acme.com"]) == 1
        await cache.mark_guests_gone(
            session, org_id=org.id, luma_event_id="evt-1", fetched_before=NOW + timedelta(days=1)
        )
        await refresh_profiles(session, org_id=org.id, emails=["bo@acme.com"])
    async with sessions() as session:
        ana = await get_profile(session, org_id=org.id, normalized_email="ana@acme.com")
        bo = await get_profile(session, org_id=org.id, normalized_email="bo@acme.com")
    assert ana is not None and ana.events_registered == 2
    assert bo is None  # no longer on any live guest list


def test_vip_rules_give_reasons() -> None:
    configured = Settings(_env_file=None, vip_companies="ACME, globex.com")
    rules = VipRules.from_settings(configured)
    regular = score(PersonFacts(attended=4, no_shows=0), rules)
    assert regular.score == 40 + 15 and regular.is_vip
    assert regular.reasons == (
        "attended 4 events (+40)",
        "showed up to 4 of 4 approved events (+15)",
    )
    capped = score(PersonFacts(attended=9, no_shows=6), rules)
    assert capped.score == 50 and "showed up" not in " ".join(capped.reasons)
    tagged = score(PersonFacts(tags=("speaker", "team")), rules)
    assert (tagged.score, tagged.reasons, tagged.is_vip) == (50, ("tagged speaker (+50)",), True)
    by_domain = score(PersonFacts(company=None, domain="globex.com"), rules)
    assert by_domain.reasons == ("globex.com is on the VIP company list (+30)",)
    assert not by_domain.is_vip
    senior = score(PersonFacts(company="ACME", seniority="C-Suite"), rules)
    assert senior.score == 70 and senior.reasons[1] == "seniority C-Suite (enrichment) (+40)"
    assert score(PersonFacts(), rules) == score(PersonFacts(tags=("nobody",)), rules)
    assert score(PersonFacts(), rules).reasons == ()


async def test_insights_and_tenant_isolation(sessions, keybox, unique) -> None:
    async with sessions.begin() as session:
        mine = await new_org(session, keybox, unique, "mine")
        theirs = await new_org(session, keybox, unique, "theirs")
        for org in (mine, theirs):
            await seed_events(session, org.id)
            await cache.upsert_guests(session, org_id=org.id, luma_event_id="evt-1", guests=[
                luma_guest("g1", "ana@acme.com", "approved"),
            ])  # fmt: skip
            await refresh_profiles(session, org_id=org.id)
        await add_tag(session, org_id=theirs.id, normalized_email="ana@acme.com", tag="vip",
                      user_id=1)  # fmt: skip
        await add_note(session, org_id=theirs.id, normalized_email="ana@acme.com",
                       text="their secret", user_id=1)  # fmt: skip
        await add_tag(session, org_id=mine.id, normalized_email="ana@acme.com", tag="press",
                      user_id=2)  # fmt: skip
    async with sessions() as session:
        rules = VipRules.from_settings(Settings(_env_file=None))
        ours = (await insights_for(session, org_id=mine.id, emails=["ana@acme.com"], rules=rules))[
            "ana@acme.com"
        ]
        other = (
            await insights_for(session, org_id=theirs.id, emails=["ana@acme.com"], rules=rules)
        )["ana@acme.com"]
        assert await tagged_emails(session, org_id=mine.id, tags=["vip"]) == set()
        assert await tagged_emails(session, org_id=theirs.id, tags=["VIP"]) == {"ana@acme.com"}
    assert (ours.tags, ours.notes, ours.vip.score) == (["press"], [], 30)
    assert other.tags == ["vip"] and [n.text for n in other.notes] == ["their secret"]
    assert other.vip.is_vip and ours.company == "acme.com"
