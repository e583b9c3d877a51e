"""/vips follows the org's own VIP rules (saved in the portal or through the API), and another
org keeps the defaults."""

from __future__ import annotations

from intel.vip import VipRules
from services import vip_rules
from services.caller import Caller
from store.models import Role


async def test_vips_use_the_orgs_rules(world) -> None:
    calendar, chat, admin = await world.linked_group()
    other, other_chat, other_admin = await world.linked_group()
    defaults: VipRules = world.deps.vip_rules

    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    speaker, press = pending[0].person.email, pending[1].person.email
    await world.say(chat, admin, f"/tag {speaker} speaker")
    await world.say(chat, admin, f"/tag {press} press")
    before = await world.say(chat, admin, "/vips founders dinner pending")
    assert before.text.splitlines()[0].endswith(f"(a VIP scores {defaults.threshold}+):")
    assert speaker in before.text and press not in before.text

    # Only the press tag scores now, and high enough for a threshold of 200.
    rules = defaults.stored() | {
        "threshold": 200,
        "tag_points": {"press": 300},
        "points_per_attended": 0,
        "attendance_rate_points": 0,
    }
    async with world.deps.sessions.begin() as session:
        await vip_rules.save(
            Caller(calendar.org_id, Role.ADMIN, "web", user_id=admin),
            session,
            rules,
            defaults=defaults,
        )
    after = await world.say(chat, admin, "/vips founders dinner pending")
    assert after.text.splitlines()[0] == (
        "1 VIP(s) among Founders Dinner, pending (a VIP scores 200+):"
    )
    assert press in after.text and "tagged press (+300)" in after.text
    assert speaker not in after.text

    # The other calendar's people are scored with the defaults.
    theirs = world.guests(other, "Founders Dinner", "pending_approval")[0].person.email
    await world.say(other_chat, other_admin, f"/tag {theirs} speaker")
    listed = await world.say(other_chat, other_admin, "/vips founders dinner pending")
    assert listed.text.splitlines()[0].endswith(f"(a VIP scores {defaults.threshold}+):")
    assert theirs in listed.text and "tagged speaker (+50)" in listed.text
