"""Repeat guests across 10 seeded events, and our tags as a bulk filter end to end.

Expected figures are counted from the simulator's own state, never through our code.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

from catalog.bulk_preview import preview_bulk
from catalog.guest_filter import GuestFilter
from core.settings import Settings
from intel.people import event_people
from intel.vip import VipRules
from luma.emails import identity_key
from store import cache
from store.profiles import add_tag, get_profile
from tests.conftest import RULES
from tests.intel.test_trends import REGISTERED, seeded_org
from tests.workflows import conftest as workflow_fixtures
from tests.workflows.conftest import link_calendar
from workflows.contracts.guest_status import GuestStatusChange

# The workflow tests' fixtures, reused as they are.
automations, job_defaults = workflow_fixtures.automations, workflow_fixtures.job_defaults
pool, simulator = workflow_fixtures.pool, workflow_fixtures.simulator


async def test_repeat_guests_across_ten_events(automations, simulator, sessions, keybox) -> None:
    org_id, calendar = await seeded_org(sessions, keybox, simulator, events=10)
    assert len(calendar.events) == 10
    await (await automations.sync_now(org_id)).result()

    # By hand: the distinct events each inbox registered for (invitations do not count).
    events_of: dict[str, set[str]] = defaultdict(set)
    for event in calendar.events.values():
        for guest in event.guests.values():
            if guest.approval_status in REGISTERED:
                events_of[identity_key(guest.person.email)].add(event.id)
    assert sum(len(ids) >= 2 for ids in events_of.values()) > 10  # the seed has regulars

    rules = VipRules.from_settings(Settings(_env_file=None))
    async with sessions() as session:
        stored = {e.luma_event_id: e for e in await cache.list_events(session, org_id=org_id)}
        for event in calendar.events.values():
            found = await event_people(
                session, org_id=org_id, events=[stored[event.id]], rules=rules
            )
            expected = {
                identity_key(g.person.email): len(events_of[identity_key(g.person.email)])
                for g in event.guests.values()
                if g.approval_status in REGISTERED
                and len(events_of[identity_key(g.person.email)]) >= 2
            }
            got = {p.insight.key: p.insight.repeat_count for p in found.repeats()}
            assert got == expected, event.name
            counts = [p.insight.repeat_count for p in found.repeats()]
            assert counts == sorted(counts, reverse=True)


async def test_tags_as_a_bulk_filter(automations, simulator, sessions, keybox) -> None:
    mine = await link_calendar(sessions, keybox, simulator, "Tagged")
    other = await link_calendar(sessions, keybox, simulator, "Other")
    event_id = simulator.state.add_event(
        mine.calendar_id,
        name="Demo Day",
        guests=30,
        status_mix={"pending_approval": 0.6, "approved": 0.2, "waitlist": 0.2},
    )
    await (await automations.sync_now(mine.org_id)).result()
    guests = list(simulator.state.event(event_id).guests.values())
    pending = [g for g in guests if g.approval_status == "pending_approval"]
    waitlisted = [g for g in guests if g.approval_status == "waitlist"]
    chosen = pending[:4]
    async with sessions.begin() as session:
        # The tag is kept per inbox: a differently written address of the same person counts.
        await tag(session, mine.org_id, chosen[0].person.email.upper())
        for guest in [*chosen[1:], waitlisted[0]]:
            await tag(session, mine.org_id, guest.person.email)
        for guest in pending:  # another org tagging everyone changes nothing here
            await tag(session, other.org_id, guest.person.email)

    wanted = GuestFilter(statuses=["pending_approval"], tags=["vip"])
    async with sessions() as session:
        preview = await preview_bulk(
            session, org_id=mine.org_id, event_id=event_id, target_status="approved",
            guest_filter=wanted,
            rules=RULES,
        )  # fmt: skip
    assert (preview.matched, preview.to_change) == (4, 4)
    assert {g.email for g in preview.sample} == {g.person.email for g in chosen}

    started = await automations.start_bulk(
        org_id=mine.org_id, event_id=event_id, target_status="approved", guest_filter=wanted,
        requested_by=1, event_name="Demo Day",
    )  # fmt: skip
    report = await automations.bulk_handle(started.workflow_id).result()
    assert (report.total, report.done, report.failed) == (4, 4, 0)
    approved_now = {w.email for w in simulator.state.writes if w.event_id == event_id}
    assert approved_now == {g.person.email for g in chosen}
    assert all(g.approval_status == "approved" for g in chosen)
    assert sum(g.approval_status == "pending_approval" for g in guests) == len(pending) - 4
    assert waitlisted[0].approval_status == "waitlist"  # tagged, but not pending
    # Untagged filters keep the job ids they had before tags existed.
    before_tags = {"statuses": ["pending_approval"], "domains": [], "emails": [],
                   "answer_label": None, "answer_value": None}  # fmt: skip
    digest = hashlib.sha256(json.dumps(before_tags, sort_keys=True).encode()).hexdigest()[:12]
    assert (
        GuestFilter(statuses=["pending_approval"]).fingerprint() == digest != wanted.fingerprint()
    )


async def tag(session, org_id: int, email: str) -> None:
    await add_tag(
        session, org_id=org_id, normalized_email=identity_key(email), tag="vip", user_id=1
    )


async def test_one_guest_approval_updates_their_profile(
    automations, simulator, sessions, keybox
) -> None:
    linked = await link_calendar(sessions, keybox, simulator, "One")
    event_id = simulator.state.add_event(
        linked.calendar_id, name="Dinner", guests=2, status_mix={"pending_approval": 1.0}
    )
    await (await automations.sync_now(linked.org_id)).result()
    email = next(iter(simulator.state.event(event_id).guests.values())).person.email

    await automations.set_guest_status(
        GuestStatusChange(org_id=linked.org_id, event_id=event_id, email=email.upper(),
                          target_status="approved")
    )  # fmt: skip
    async with sessions() as session:
        profile = await get_profile(
            session, org_id=linked.org_id, normalized_email=identity_key(email)
        )
    assert profile is not None and profile.events_approved == 1
