"""Linking through `services.linking`: the key is checked with Luma before anything is
stored, stored encrypted, audited by fingerprint only; unlinking and key replacement are for
admins, and stop or keep the schedules as the calendar's last chat goes."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from activities.luma_access import LumaAccess
from luma import NotFoundError
from luma.ratelimit import ORGANIZATION_KEY
from services import linking
from services.caller import Caller, Conflict, Forbidden, Invalid, NotFound
from services.linking import KeyRejected, Place
from store.crypto import fingerprint
from store.models import Chat, Event, LinkOffer, LumaRateState, Organization, Role, User
from store.orgs import get_role, luma_key
from tests.conftest import eventually
from tests.services.conftest import audit_rows, caller, person
from tests.workflows.conftest import link_calendar
from workflows import ids


async def _place(sessions, private: bool = False) -> Place:
    user_id = await person(sessions, None, None)
    if private:
        return Place(user_id, user_id, "private", "")
    return Place(user_id, -(10**12) - uuid.uuid4().int % 10**9, "group", "Team")


async def _org_of_calendar(sessions, calendar_id: str) -> Organization | None:
    async with sessions() as session:
        return await session.scalar(
            select(Organization).where(Organization.luma_calendar_id == calendar_id)
        )


async def _link(
    sessions, pool, keybox, billing, automations, key: str, place: Place | None = None
) -> linking.Linked:
    """Link as the bot's /link does, from `place` (a new group when not given)."""
    linked = await _link_any(sessions, pool, keybox, billing, automations, key, place)
    assert isinstance(linked, linking.Linked)
    return linked


async def _link_any(
    sessions, pool, keybox, billing, automations, key: str, place: Place | None = None
) -> linking.Linked | linking.CalendarChoice:
    place = place or await _place(sessions)
    async with sessions() as session:
        return await linking.link_calendar(
            place,
            session,
            luma=pool,
            keybox=keybox,
            billing=billing,
            automations=automations,
            key=key,
        )


async def test_a_bad_or_rejected_key_stores_nothing(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    place = await _place(sessions)
    for key, refusal in (("short", Invalid), ("secret-sim-not-a-real-key-at-all", KeyRejected)):
        with pytest.raises(refusal):
            await _link(sessions, pool, keybox, billing, automations, key, place)
    async with sessions() as session:
        assert await session.get(Chat, place.chat_id) is None


async def test_link_then_unlink_the_last_chat(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    calendar = simulator.state.add_calendar(f"Linked {uuid.uuid4().hex[:6]}")
    place = await _place(sessions, private=True)
    sent = f"  {calendar.api_key} "  # as pasted: the spaces are trimmed
    linked = await _link(sessions, pool, keybox, billing, automations, sent, place)
    try:
        assert linked.syncing and linked.key_fingerprint == fingerprint(calendar.api_key)
        org = await _org_of_calendar(sessions, calendar.id)
        assert org is not None and org.id == linked.org_id
        assert calendar.api_key.encode() not in org.key_ciphertext
        async with sessions() as session:
            assert await get_role(session, org_id=org.id, user_id=place.user_id) is Role.ADMIN
            user = await session.get(User, place.user_id)
            assert user is not None and user.active_org_id == org.id
        [entry] = await audit_rows(sessions, org.id)
        assert entry.action == "link" and calendar.api_key not in str(entry.target)
        assert await automations.schedule_exists(ids.sync_schedule_id(org.id))

        member = await caller(sessions, org.id, Role.MEMBER, "bot", chat_id=place.chat_id)
        async with sessions() as session:
            with pytest.raises(Forbidden):
                await linking.unlink_chat(member, session, automations, private=True)
        assert await automations.schedule_exists(ids.sync_schedule_id(org.id))

        admin = Caller(org.id, Role.ADMIN, "bot", place.user_id, place.chat_id)
        async with sessions() as session:
            unlinked = await linking.unlink_chat(admin, session, automations, private=True)
        assert unlinked.stopped and unlinked.name == linked.name
        assert not await automations.schedule_exists(ids.sync_schedule_id(org.id))
        async with sessions() as session:
            chat = await session.get(Chat, place.chat_id)
            assert chat is not None and chat.org_id is None
            user = await session.get(User, place.user_id)
            assert user is not None and user.active_org_id is None
        assert [e.action for e in await audit_rows(sessions, org.id)] == ["link", "unlink"]
    finally:
        await automations.on_org_unlinked(linked.org_id, [])


async def test_replacing_the_key_of_the_same_calendar_only(
    sessions, simulator, pool, keybox, org
) -> None:
    other = simulator.state.add_calendar("Someone else")
    member = await caller(sessions, org.org_id, Role.MEMBER)
    admin = await caller(sessions, org.org_id, Role.ADMIN)
    for who, key, refusal in (
        (member, org.api_key, Forbidden),
        (admin, "has spaces in it", Invalid),
        (admin, other.api_key, Conflict),
    ):
        async with sessions() as session:
            with pytest.raises(refusal):
                await linking.replace_key(who, session, luma=pool, keybox=keybox, key=key)
    assert await audit_rows(sessions, org.org_id) == []


async def test_replacing_a_verified_key_is_audited(sessions, simulator, pool, keybox) -> None:
    # Linked the way the bot links: the org is keyed on the key's calendar.
    calendar = simulator.state.add_calendar(f"Keyed {uuid.uuid4().hex[:6]}")
    linked = await link_calendar(sessions, keybox, simulator, "unused")
    async with sessions.begin() as session:
        org = await session.get(Organization, linked.org_id)
        assert org is not None
        org.luma_calendar_id = calendar.id
    admin = await caller(sessions, linked.org_id, Role.ADMIN)
    async with sessions.begin() as session:
        shown = await linking.replace_key(
            admin, session, luma=pool, keybox=keybox, key=calendar.api_key
        )
    assert shown == fingerprint(calendar.api_key)
    [entry] = await audit_rows(sessions, linked.org_id)
    assert entry.action == "key_replace" and entry.target == {"key": shown}


async def test_use_only_a_calendar_one_belongs_to(sessions, org, keybox, simulator) -> None:
    other = await link_calendar(sessions, keybox, simulator, "Beta Events")
    user_id = await person(sessions, org.org_id, Role.MEMBER)
    async with sessions.begin() as session:
        with pytest.raises(NotFound):
            await linking.use_calendar(session, user_id=user_id, org_id=other.org_id)
        chosen = await linking.use_calendar(session, user_id=user_id, org_id=org.org_id)
        assert chosen.id == org.org_id
        mine = await linking.calendars_of(session, user_id=user_id)
        assert linking.match_calendar(mine, chosen.name[:5].upper()).id == org.org_id
        with pytest.raises(Invalid):
            linking.match_calendar(mine, "nothing like it")


async def test_two_calendars_of_one_luma_user_are_two_tenants(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    """Before, both keys named the same get-self user: the second link took over the first
    org and overwrote its key, so the first calendar's chats then wrote to the second."""
    lisbon = simulator.state.add_calendar(f"Lisbon {uuid.uuid4().hex[:6]}")
    porto = simulator.state.add_calendar(f"Porto {uuid.uuid4().hex[:6]}")
    state = simulator.state
    assert state.calendar(lisbon.id).owner is state.calendar(porto.id).owner  # one Luma user
    first = await _link(sessions, pool, keybox, billing, automations, lisbon.api_key)
    second = await _link(sessions, pool, keybox, billing, automations, porto.api_key)
    try:
        assert first.org_id != second.org_id
        assert (first.name, second.name) == (lisbon.name, porto.name)
        async with sessions() as session:
            for linked, calendar in ((first, lisbon), (second, porto)):
                org = await session.get(Organization, linked.org_id)
                assert org is not None and org.luma_calendar_id == calendar.id
                assert await luma_key(session, org_id=org.id, keybox=keybox) == calendar.api_key
        admin = await caller(sessions, first.org_id, Role.ADMIN)
        async with sessions() as session:
            with pytest.raises(Conflict, match="another Luma calendar"):
                await linking.replace_key(
                    admin, session, luma=pool, keybox=keybox, key=porto.api_key
                )
    finally:
        for linked in (first, second):
            await automations.on_org_unlinked(linked.org_id, [])


async def test_an_org_keyed_on_its_owner_learns_its_calendar_at_the_next_sync(
    sessions, simulator, pool, keybox, automations
) -> None:
    """Orgs linked before are keyed on the key's user (usr-…): they keep working, and the
    next sync keys them on the calendar Luma names for the stored key."""
    linked = await link_calendar(sessions, keybox, simulator, f"Old {uuid.uuid4().hex[:6]}")
    simulator.state.add_event(linked.calendar_id, name="Still here", guests=3)
    owner = simulator.state.calendar(linked.calendar_id).owner
    async with sessions.begin() as session:
        org = await session.get(Organization, linked.org_id)
        assert org is not None
        org.luma_calendar_id = owner.id
    admin = await caller(sessions, linked.org_id, Role.ADMIN)
    async with sessions() as session:
        with pytest.raises(Conflict, match="send /sync"):
            await linking.replace_key(admin, session, luma=pool, keybox=keybox, key=linked.api_key)
    report = await (await automations.sync_now(linked.org_id)).result()
    assert (report.events, report.guests) == (1, 3)  # it kept working
    async with sessions() as session:
        org = await session.get(Organization, linked.org_id)
        assert org is not None and org.luma_calendar_id == linked.calendar_id


async def test_junk_keys_leave_no_rate_budget_rows_behind(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    """Every key check spends one shared budget: 30 junk keys sent to /link leave one budget
    row, not 30 that nothing would ever prune."""
    place = await _place(sessions)
    for n in range(30):
        junk = f"secret-sim-junk-{n:04d}-{uuid.uuid4().hex[:8]}"
        with pytest.raises(KeyRejected):
            await _link(sessions, pool, keybox, billing, automations, junk, place)
    async with sessions() as session:
        keys = (
            await session.scalars(
                select(LumaRateState.budget_key).where(LumaRateState.budget_key.like("key-check%"))
            )
        ).all()
    assert keys == ["key-check"]


# --- organization keys ----------------------------------------------------------------------


async def _offer(
    sessions, pool, keybox, billing, automations, key: str, place: Place
) -> linking.CalendarChoice:
    choice = await _link_any(sessions, pool, keybox, billing, automations, key, place)
    assert isinstance(choice, linking.CalendarChoice)
    return choice


async def _pick(sessions, pool, keybox, billing, automations, place: Place, offer: str, index: int):
    async with sessions() as session:
        return await linking.link_offered(
            place,
            session,
            luma=pool,
            keybox=keybox,
            billing=billing,
            automations=automations,
            offer_id=offer,
            index=index,
        )


async def test_an_organization_key_offers_its_calendars_and_links_the_one_picked(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    """Before, an organization key was refused (calendars/get does not take it); now its
    calendars are offered, nothing is stored but the offer, and the press links that one."""
    organization = simulator.state.add_organization(f"Org {uuid.uuid4().hex[:6]}", calendars=3)
    place = await _place(sessions)
    choice = await _offer(sessions, pool, keybox, billing, automations, organization.api_key, place)
    assert [(c.id, c.name) for c in choice.calendars] == [
        (c.id, c.name) for c in organization.calendars
    ]
    assert choice.key_fingerprint == fingerprint(organization.api_key)
    for calendar in organization.calendars:
        assert await _org_of_calendar(sessions, calendar.id) is None
    async with sessions() as session:
        assert await session.get(Chat, place.chat_id) is None
        offer = await session.get(LinkOffer, choice.offer_id)
        assert offer is not None and organization.api_key.encode() not in offer.key_ciphertext

    stranger = await _place(sessions)  # someone else, elsewhere, cannot take the offer
    with pytest.raises(NotFound):
        await _pick(sessions, pool, keybox, billing, automations, stranger, choice.offer_id, 1)
    linked = await _pick(sessions, pool, keybox, billing, automations, place, choice.offer_id, 1)
    try:
        picked = organization.calendars[1]
        org = await _org_of_calendar(sessions, picked.id)
        assert org is not None and org.id == linked.org_id and linked.name == picked.name
        assert org.key_kind == ORGANIZATION_KEY and org.webhook_status is None
        async with sessions() as session:
            assert await luma_key(session, org_id=org.id, keybox=keybox) == organization.api_key
            assert await session.get(LinkOffer, choice.offer_id) is None  # taken, key gone
        [entry] = await audit_rows(sessions, org.id)
        assert entry.target == {
            "calendar": picked.id,
            "key": fingerprint(organization.api_key),
            "key_kind": ORGANIZATION_KEY,
        }
        with pytest.raises(NotFound):  # once
            await _pick(sessions, pool, keybox, billing, automations, place, choice.offer_id, 0)
        assert await _org_of_calendar(sessions, organization.calendars[0].id) is None
    finally:
        await automations.on_org_unlinked(linked.org_id, [])


async def test_two_calendars_of_one_organization_key_are_two_tenants(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    """Each tenant syncs, reads and writes its own calendar only; both spend one budget."""
    state = simulator.state
    organization = state.add_organization(f"Org {uuid.uuid4().hex[:6]}", calendars=2, events=3)
    berlin, lisbon = organization.calendars
    tenants = []
    for index in (0, 1):
        place = await _place(sessions)
        choice = await _offer(
            sessions, pool, keybox, billing, automations, organization.api_key, place
        )
        tenants.append(
            await _pick(sessions, pool, keybox, billing, automations, place, choice.offer_id, index)
        )
    try:
        assert tenants[0].org_id != tenants[1].org_id
        for tenant, calendar in zip(tenants, (berlin, lisbon), strict=True):
            expected = set(state.calendar(calendar.id).events)

            async def synced(org_id: int = tenant.org_id) -> set[str]:
                async with sessions() as session:
                    rows = await session.scalars(
                        select(Event.luma_event_id).where(Event.org_id == org_id)
                    )
                    return set(rows)

            assert await eventually(synced) == expected  # the first sync, by the worker

        access = LumaAccess(sessions, keybox, pool)
        first, second = [await access.client(tenant.org_id) for tenant in tenants]
        assert first.budget_key == second.budget_key
        assert first.budget_key.startswith("org-key:")
        theirs = next(iter(state.calendar(lisbon.id).events))
        mine = next(iter(state.calendar(berlin.id).events))
        with pytest.raises(NotFoundError):
            [guest async for guest in first.iter_guests(theirs)]
        guest = next(iter(state.event(mine).guests.values()))
        since = len(state.writes)
        with pytest.raises(NotFoundError):
            await first.update_guest_status(theirs, email=guest.person.email, status="declined")
        await first.update_guest_status(mine, guest_id=guest.id, status="waitlist")
        [write] = state.writes_since(since)
        assert (write.calendar_id, write.event_id, write.new_status) == (
            berlin.id,
            mine,
            "waitlist",
        )
        assert [g.id async for g in second.iter_guests(theirs)]  # the sister's own, allowed
    finally:
        for tenant in tenants:
            await automations.on_org_unlinked(tenant.org_id, [])


async def test_replacing_a_key_with_an_organization_key(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    """The organization's key replaces a calendar's when it opens that calendar, and is
    refused, with the calendars it does open, when it does not."""
    state = simulator.state
    organization = state.add_organization(f"Org {uuid.uuid4().hex[:6]}", calendars=2)
    elsewhere = state.add_organization(f"Elsewhere {uuid.uuid4().hex[:6]}", calendars=1)
    calendar = organization.calendars[0]
    linked = await _link(sessions, pool, keybox, billing, automations, calendar.api_key)
    assert [h.calendar_id for h in state.webhooks.values()].count(calendar.id) == 1
    try:
        admin = await caller(sessions, linked.org_id, Role.ADMIN)
        async with sessions() as session:
            with pytest.raises(Conflict, match="does not open") as refused:
                await linking.replace_key(
                    admin, session, luma=pool, keybox=keybox, key=elsewhere.api_key
                )
        assert elsewhere.calendars[0].name in refused.value.message
        async with sessions.begin() as session:
            await linking.replace_key(
                admin, session, luma=pool, keybox=keybox, key=organization.api_key
            )
        org = await _org_of_calendar(sessions, calendar.id)
        assert org is not None and org.key_kind == ORGANIZATION_KEY
        # The webhook the calendar's own key registered went with it (the new key could not).
        assert (org.webhook_status, org.luma_webhook_id) == (None, None)
        assert not [h for h in state.webhooks.values() if h.calendar_id == calendar.id]
        async with sessions.begin() as session:  # and back to the calendar's own key
            await linking.replace_key(
                admin, session, luma=pool, keybox=keybox, key=calendar.api_key
            )
        org = await _org_of_calendar(sessions, calendar.id)
        assert org is not None and org.key_kind == "calendar"
        assert org.webhook_status == "pending"  # registered again by the next sync
    finally:
        await automations.on_org_unlinked(linked.org_id, [])


async def test_an_organization_key_never_replaces_a_calendars_own_key(
    sessions, simulator, pool, keybox, billing, automations
) -> None:
    """Linking a chat through the organization key opens a calendar already linked with its
    own key to that chat; the stored key (and the webhook it registered) stay."""
    organization = simulator.state.add_organization(
        f"Org {uuid.uuid4().hex[:6]}", calendars=1, events=1
    )
    [calendar] = organization.calendars
    own = await _link(sessions, pool, keybox, billing, automations, calendar.api_key)
    try:
        hooks = [h.id for h in simulator.state.webhooks.values() if h.calendar_id == calendar.id]
        place = await _place(sessions)
        choice = await _offer(
            sessions, pool, keybox, billing, automations, organization.api_key, place
        )
        linked = await _pick(
            sessions, pool, keybox, billing, automations, place, choice.offer_id, 0
        )
        assert linked.org_id == own.org_id and linked.note == linking.KEPT_OWN_KEY
        assert linked.key_fingerprint == own.key_fingerprint
        org = await _org_of_calendar(sessions, calendar.id)
        assert org is not None and org.key_kind == linking.CALENDAR_KEY
        assert keybox.decrypt(org.key_ciphertext) == calendar.api_key
        assert hooks and hooks == [
            h.id for h in simulator.state.webhooks.values() if h.calendar_id == calendar.id
        ]
    finally:
        await automations.on_org_unlinked(own.org_id, [])
