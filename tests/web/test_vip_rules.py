"""The VIP rule editor in the portal: a preview with counts before saving, save (audited),
the guest list's VIP filter following the org's rules, reset; members only read."""

from __future__ import annotations

import re

from sqlalchemy import select

from luma.emails import identity_key
from store.models import AuditEntry, OrgVipRules, Role
from store.profiles import add_tag
from tests.api.conftest import synced_event
from tests.web.conftest import csrf_of

FORM = {
    "threshold": "50",
    "points_per_attended": "0",
    "attended_cap": "5",
    "attendance_rate": "80",
    "attendance_rate_points": "0",
    "attendance_rate_min_events": "3",
    "tag_points": "press=60",
    "companies": "",
    "company_points": "30",
    "seniority_points": "c_suite=40, director=20, founder=40, owner=40, vp=30",
}


def _number(html: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', html)
    assert found is not None, element_id
    return int(found[1])


async def _vip_total(client, event_id: str) -> int:
    listed = await client.get(f"/web/events/{event_id}/guests", params={"vip": "1"})
    assert listed.status_code == 200
    return _number(listed.text, "guest-total")


async def test_preview_save_filter_and_reset(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=6, status_mix={"approved": 1.0}
    )
    emails = [g.person.email for g in simulator.state.event(event_id).guests.values()]
    star, press = identity_key(emails[0]), identity_key(emails[1])
    async with portal.sessions.begin() as session:
        for key, tag in ((star, "vip"), (press, "press")):
            await add_tag(
                session, org_id=portal.org.org_id, normalized_email=key, tag=tag, user_id=None
            )
    async with portal.signed_in(Role.ADMIN) as admin:
        shown = await admin.get("/web/vip-rules")
        assert shown.status_code == 200
        assert 'href="/web/vip-rules" aria-current="page"' in shown.text
        assert "uses the installation's default rules" in shown.text
        assert 'id="threshold" name="threshold" inputmode="numeric" value="50"' in shown.text
        token = csrf_of(shown.text)
        assert await _vip_total(admin, event_id) == 1  # the vip tag's 100 points

        preview = await admin.post("/web/vip-rules/preview", data={**FORM, "csrf": token})
        assert preview.status_code == 200
        assert (_number(preview.text, "becoming"), _number(preview.text, "leaving")) == (1, 1)
        assert (_number(preview.text, "vips-before"), _number(preview.text, "vips-after")) == (1, 1)
        becoming = preview.text.split('id="becoming"', 1)[1].split("would stop", 1)[0]
        assert press in becoming and star not in becoming
        assert 'value="press=60"' not in preview.text and ">press=60</textarea>" in preview.text
        async with portal.sessions() as session:
            assert await session.get(OrgVipRules, portal.org.org_id) is None  # nothing saved

        wrong = await admin.post("/web/vip-rules", data={**FORM, "threshold": "0", "csrf": token})
        assert wrong.status_code == 400
        assert "Give the VIP threshold as a whole number from 1 to 10000." in wrong.text
        words = await admin.post(
            "/web/vip-rules", data={**FORM, "tag_points": "press sixty", "csrf": token}
        )
        assert words.status_code == 400 and "Write the tag points as name=points" in words.text

        saved = await admin.post("/web/vip-rules", data={**FORM, "csrf": token})
        assert saved.status_code == 303 and saved.headers["location"] == "/web/vip-rules?saved=3"
        assert await _vip_total(admin, event_id) == 1  # now the press-tagged person
        listed = await admin.get(f"/web/events/{event_id}/guests", params={"vip": "1"})
        assert emails[1] in listed.text and emails[0] not in listed.text
        page = await admin.get("/web/vip-rules?saved=3")
        assert "These are this calendar's own rules" in page.text

        async with portal.sessions() as session:
            audit = (
                await session.scalars(
                    select(AuditEntry).where(
                        AuditEntry.org_id == portal.org.org_id,
                        AuditEntry.action.like("vip_rules_%"),
                    )
                )
            ).all()
        assert [(a.action, a.source) for a in audit] == [("vip_rules_saved", "web")]

        reset = await admin.post("/web/vip-rules/reset", data={"csrf": token})
        assert reset.status_code == 303 and reset.headers["location"] == "/web/vip-rules?reset=1"
        async with portal.sessions() as session:
            assert await session.get(OrgVipRules, portal.org.org_id) is None
        listed = await admin.get(f"/web/events/{event_id}/guests", params={"vip": "1"})
        assert emails[0] in listed.text and emails[1] not in listed.text


async def test_members_read_only(portal) -> None:
    async with portal.signed_in(Role.MEMBER) as member:
        shown = await member.get("/web/vip-rules")
        assert shown.status_code == 200
        assert "Only an admin can change the rules." in shown.text
        assert 'id="save-button"' not in shown.text and 'id="reset-button"' not in shown.text
        assert "<fieldset disabled>" in shown.text
        token = csrf_of(shown.text)
        for path, data in (("", FORM), ("/reset", {})):
            refused = await member.post(f"/web/vip-rules{path}", data={**data, "csrf": token})
            assert refused.status_code == 403 and "Admins only" in refused.text
        stale = await member.post("/web/vip-rules/preview", data={**FORM, "csrf": "stale"})
        assert stale.status_code == 403
    async with portal.sessions() as session:
        assert await session.get(OrgVipRules, portal.org.org_id) is None
        audited = await session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.org_id == portal.org.org_id, AuditEntry.action.like("vip_rules_%")
            )
        )
        assert audited is None
