"""The profile page's tag and note forms over HTTP: `services.profiles` decides, so the portal
audits under the bot's action names and refuses bad tags with the bot's sentence."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select

from activities.sync import guest_row
from luma import LumaGuest
from store import cache
from store.models import AuditEntry, GuestNote, Role
from tests.web.conftest import csrf_of

EMAIL = "grace.hopper@navy.example"


async def test_tags_and_notes_from_the_portal(portal) -> None:
    org_id = portal.org.org_id
    guest = LumaGuest.model_validate(
        {"id": "g-portal-people", "email": EMAIL, "approval_status": "approved"}
    )
    async with portal.sessions.begin() as session:
        await cache.upsert_guests(
            session, org_id=org_id, luma_event_id="evt-people", guests=[guest_row(guest)]
        )
    base = f"/web/people/{quote(EMAIL, safe='@')}"
    async with portal.signed_in(Role.MEMBER) as member:
        token = csrf_of((await member.get("/web/events")).text)
        refused = await member.post(f"{base}/tags", data={"tag": "vip", "csrf": token})
        assert refused.status_code == 403
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get("/web/events")).text)
        bad = await admin.post(f"{base}/tags", data={"tag": "VIP!!", "csrf": token})
        assert bad.status_code == 422 and "is not a tag I can use" in bad.text
        for path, data in (
            ("tags", {"tag": "#Speaker"}),
            ("tags/remove", {"tag": "#SPEAKER"}),  # the same format both ways
            ("notes", {"text": "Asked about the keynote."}),
        ):
            response = await admin.post(f"{base}/{path}", data={**data, "csrf": token})
            assert response.status_code == 303, (path, response.text)
        async with portal.sessions() as session:
            note_id = await session.scalar(select(GuestNote.id).where(GuestNote.org_id == org_id))
        deleted = await admin.post(
            f"{base}/notes/delete", data={"note_id": str(note_id), "csrf": token}
        )
        assert deleted.status_code == 303
        again = await admin.post(
            f"{base}/notes/delete", data={"note_id": str(note_id), "csrf": token}
        )
        assert again.status_code == 404
    async with portal.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.org_id == org_id, AuditEntry.action != "web_signin")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(entry.action, entry.source) for entry in entries] == [
        ("tag_guest", "web"),
        ("untag_guest", "web"),
        ("note_guest", "web"),
        ("note_delete", "web"),
    ]
    assert entries[0].target == {"email": EMAIL, "tag": "speaker"}
