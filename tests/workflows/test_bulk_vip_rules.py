"""The bulk job's VIP filter scores Luma's fresh pages with the org's own VIP rules."""

from __future__ import annotations

from catalog.guest_filter import GuestFilter
from core.settings import Settings
from intel.vip import VipRules
from intel.vip_rules import save_rules
from luma import identity_key
from store.profiles import add_tag


async def test_bulk_vip_filter_uses_the_orgs_rules(automations, simulator, org, sessions) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=12, status_mix={"pending_approval": 1.0}
    )
    guests = list(simulator.state.event(event_id).guests.values())
    tagged = {"vip": guests[:2], "press": guests[2:5]}
    defaults = VipRules.from_settings(Settings(_env_file=None))
    async with sessions.begin() as session:
        for tag, people in tagged.items():
            for guest in people:
                await add_tag(
                    session,
                    org_id=org.org_id,
                    normalized_email=identity_key(guest.person.email),
                    tag=tag,
                    user_id=None,
                )
        # The org's rules: press makes a VIP, the vip tag no longer does.
        own = defaults.with_stored({"tag_points": {"press": 80}})
        await save_rules(session, org_id=org.org_id, rules=own, user_id=None)
    started = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(vip=True),
    )
    report = await automations.bulk_handle(started.workflow_id).result()
    assert report.done == 3
    approved = {
        g.person.email
        for g in simulator.state.event(event_id).guests.values()
        if g.approval_status == "approved"
    }
    assert approved == {guest.person.email for guest in tagged["press"]}
