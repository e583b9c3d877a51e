"""The org's VIP rules through the control API: read, preview, replace, reset; the export's
VIP columns follow the org's rules while another org keeps the defaults; audited; bounded."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from core.settings import Settings
from intel.vip import VipRules
from luma.emails import identity_key
from store.models import AuditEntry, Role
from store.orgs import set_role
from store.profiles import add_tag
from tests.api.conftest import client_for, error_of, issue, synced_event

DEFAULTS = VipRules.from_settings(Settings(_env_file=None))


def proposed(**changes: Any) -> dict[str, Any]:
    """The defaults with only tags scoring (attendance and companies give nothing), changed."""
    body = DEFAULTS.stored() | {"points_per_attended": 0, "attendance_rate_points": 0}
    return body | changes


async def tagged_event(tenant, simulator, automations, sessions) -> tuple[str, str, str, int]:
    """An upcoming event of 5 approved guests (nobody attended anything yet): the first one
    tagged vip, the second press. Returns the event, the two keys and the people count."""
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=5, status_mix={"approved": 1.0}
    )
    emails = [g.person.email for g in simulator.state.event(event_id).guests.values()]
    star, press = identity_key(emails[0]), identity_key(emails[1])
    async with sessions.begin() as session:
        for key, tag in ((star, "vip"), (press, "press")):
            await add_tag(
                session, org_id=tenant.org.org_id, normalized_email=key, tag=tag, user_id=None
            )
    return event_id, star, press, len({identity_key(email) for email in emails})


async def scores(tenant, event_id: str) -> dict[str, tuple[int, str]]:
    response = await tenant.client.get(f"/v1/events/{event_id}/guests.csv")
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.text))
    return {identity_key(row["email"]): (int(row["vip_score"]), row["vip_reasons"]) for row in rows}


async def test_preview_save_export_and_reset(
    tenant, other, simulator, automations, sessions
) -> None:
    shown = await tenant.client.get("/v1/vip-rules")
    assert shown.status_code == 200
    assert shown.json() == DEFAULTS.stored() | {"own": False, "updated_at": None}

    event_id, star, press, people = await tagged_event(tenant, simulator, automations, sessions)
    before = await scores(tenant, event_id)
    assert before[star][0] >= DEFAULTS.threshold and before[press] == (30, "tagged press (+30)")

    # The preview: the vip tag no longer scores, press does; nothing is saved.
    body = proposed(tag_points={"press": 60})
    preview = await tenant.client.post("/v1/vip-rules/preview", json=body)
    assert preview.status_code == 200, preview.text
    found = preview.json()
    assert (found["people"], found["vips_before"], found["vips_after"]) == (people, 1, 1)
    assert (found["becoming_count"], found["leaving_count"]) == (1, 1)
    assert [p["email"] for p in found["becoming"]] == [press]
    assert [p["email"] for p in found["leaving"]] == [star]
    assert found["becoming"][0]["score_after"] == 60
    assert (await tenant.client.get("/v1/vip-rules")).json()["own"] is False

    saved = await tenant.client.put("/v1/vip-rules", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["own"] is True and saved.json()["tag_points"] == {"press": 60}
    after = await scores(tenant, event_id)
    assert after[star] == (0, "") and after[press] == (60, "tagged press (+60)")

    async with sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.org_id == tenant.org.org_id, AuditEntry.action == "vip_rules_saved"
                )
            )
        ).all()
    assert len(audit) == 1 and audit[0].source == "api"
    assert audit[0].target == {
        "fields": ["attendance_rate_points", "points_per_attended", "tag_points"]
    }
    assert '"press": 60' in audit[0].detail

    # The same rules again change nothing and leave no second row.
    assert (await tenant.client.put("/v1/vip-rules", json=body)).status_code == 200
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.id).where(
                AuditEntry.org_id == tenant.org.org_id, AuditEntry.action == "vip_rules_saved"
            )
        )
        assert len(rows.all()) == 1

    # Another org keeps the defaults, for its rules and its people's scores.
    assert (await other.client.get("/v1/vip-rules")).json()["own"] is False
    other_event, _, other_press, _ = await tagged_event(other, simulator, automations, sessions)
    assert (await scores(other, other_event))[other_press] == (30, "tagged press (+30)")

    reset = await tenant.client.delete("/v1/vip-rules")
    assert reset.status_code == 200
    assert reset.json() == DEFAULTS.stored() | {"own": False, "updated_at": None}
    assert await scores(tenant, event_id) == before
    async with sessions() as session:
        action = await session.scalar(
            select(AuditEntry.action)
            .where(AuditEntry.org_id == tenant.org.org_id)
            .order_by(AuditEntry.id.desc())
        )
    assert action == "vip_rules_reset"


async def test_bounds_and_a_demoted_token(app, tenant, sessions) -> None:
    for wrong in (
        proposed(threshold=0),
        proposed(attendance_rate=1.5),
        proposed(tag_points={"Not A Tag": 10}),
        proposed(tag_points={"vip": 5000}),
        proposed(companies=["a, b"]),
        proposed(threshold="60"),
        {"threshold": 60},  # the whole rule set, not a part
        proposed(surprise=1),
    ):
        refused = await tenant.client.put("/v1/vip-rules", json=wrong)
        assert refused.status_code == 422, wrong
        assert error_of(refused)["code"] == "invalid_input"
    assert (await tenant.client.get("/v1/vip-rules")).json()["own"] is False

    # A token's maker who is no longer an admin: the token stops working, nothing is saved.
    maker = 9_100_000_000 + tenant.org.org_id
    async with sessions.begin() as session:
        await set_role(session, org_id=tenant.org.org_id, user_id=maker, role=Role.ADMIN)
    token = await issue(sessions, tenant.org.org_id, maker=maker)
    async with sessions.begin() as session:
        await set_role(session, org_id=tenant.org.org_id, user_id=maker, role=Role.MEMBER)
    async with client_for(app, token) as demoted:
        assert (await demoted.put("/v1/vip-rules", json=proposed(threshold=70))).status_code == 401
    assert (await tenant.client.get("/v1/vip-rules")).json()["threshold"] == DEFAULTS.threshold
