"""Editing an event's approval policy in the portal: rules in the bot's words (added, moved,
removed), mode, seats and the rubric, each through `services.policies` and checked in the
database and on the page; bad words and stale forms change nothing; members only read."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from intel.approval_policy import Action, Rule
from intel.policy_text import parse_rule
from luma.errors import LumaUnavailableError
from store.models import ApprovalPolicy, AuditEntry, Role
from tests.api.conftest import synced_event
from tests.web.conftest import csrf_of

RULES = ["approve from acme.com", "hold tag student", "decline email spam@example.com"]


async def _row(portal, event_id: str) -> ApprovalPolicy | None:
    async with portal.sessions() as session:
        return await session.scalar(
            select(ApprovalPolicy).where(
                ApprovalPolicy.org_id == portal.org.org_id,
                ApprovalPolicy.luma_event_id == event_id,
            )
        )


async def _described(portal, event_id: str) -> list[str]:
    row = await _row(portal, event_id)
    assert row is not None
    return [Rule.model_validate(rule).describe() for rule in row.rules]


async def _audited(portal) -> list[str]:
    async with portal.sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry.action)
                .where(
                    AuditEntry.org_id == portal.org.org_id,
                    AuditEntry.source == "web",
                    AuditEntry.action.like("policy_%"),
                )
                .order_by(AuditEntry.id)
            )
        )


def _main(html: str) -> str:
    """The page's own content, without the frame (whose sign-out form every page has)."""
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


async def test_admin_edits_rules_mode_seats_and_rubric(portal, simulator, automations) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Policy Dinner")
    url = f"/web/events/{event_id}/policy"
    described = [parse_rule(text).describe() for text in RULES]
    async with portal.signed_in(Role.ADMIN) as admin:
        shown = await admin.get(url)
        assert shown.status_code == 200
        assert 'id="add-rule"' in shown.text and "approve vip 60" in shown.text  # the help
        token = csrf_of(shown.text)
        for text in RULES:
            added = await admin.post(f"{url}/rules/add", data={"csrf": token, "rule": text})
            assert (
                added.status_code == 303 and added.headers["location"] == f"{url}?saved=rule-added"
            )
        assert await _described(portal, event_id) == described

        # Rule 3 up: the ban list now comes before the student hold.
        moved = await admin.post(
            f"{url}/rules/move",
            data={"csrf": token, "number": "3", "shown": described[2], "direction": "up"},
        )
        assert moved.status_code == 303
        order = [described[0], described[2], described[1]]
        assert await _described(portal, event_id) == order
        down = await admin.post(
            f"{url}/rules/move",
            data={"csrf": token, "number": "1", "shown": described[0], "direction": "down"},
        )
        assert down.status_code == 303
        order = [described[2], described[0], described[1]]
        assert await _described(portal, event_id) == order

        # A form naming rule 1 as the page showed it before the move is stale: refused.
        stale = await admin.post(
            f"{url}/rules/remove", data={"csrf": token, "number": "1", "shown": described[0]}
        )
        assert stale.status_code == 409 and "nothing was changed" in stale.text
        assert await _described(portal, event_id) == order
        removed = await admin.post(
            f"{url}/rules/remove", data={"csrf": token, "number": "1", "shown": described[2]}
        )
        assert removed.status_code == 303
        assert await _described(portal, event_id) == [described[0], described[1]]

        assert (
            await admin.post(f"{url}/mode", data={"csrf": token, "mode": "auto"})
        ).status_code == 303
        seats = await admin.post(
            f"{url}/seats", data={"csrf": token, "capacity": "120", "waitlist_order": "vip"}
        )
        assert seats.status_code == 303
        rubric = "Approve founders building developer tools; hold recruiters."
        saved = await admin.post(
            f"{url}/rubric", data={"csrf": token, "rubric": rubric, "may_decline": "on"}
        )
        assert saved.status_code == 303
        row = await _row(portal, event_id)
        assert row is not None
        assert (row.mode, row.capacity, row.waitlist_order) == ("auto", 120, "vip")
        assert (row.rubric, row.rubric_may_decline) == (rubric, True)

        page = await admin.get(f"{url}?saved=rubric")
        assert "Mode: <strong>auto</strong>" in page.text
        assert "Capacity: 120 seats; waitlist order: vip." in page.text
        assert rubric in page.text and "The rubric may decline guests." in page.text
        listed = page.text.split('id="rules"', 1)[1].split("</ol>", 1)[0]
        assert listed.index(described[0]) < listed.index(described[1])
        assert described[2] not in listed

        # Capacity emptied (not set), the rubric kept but no longer allowed to decline.
        cleared = await admin.post(
            f"{url}/seats", data={"csrf": token, "capacity": "", "waitlist_order": "vip"}
        )
        assert cleared.status_code == 303
        kept = await admin.post(f"{url}/rubric", data={"csrf": token, "rubric": rubric})
        assert kept.status_code == 303
        row = await _row(portal, event_id)
        assert row is not None and row.capacity is None and row.rubric == rubric
        assert row.rubric_may_decline is False
        page = await admin.get(url)
        assert "No capacity set." in page.text and "it never declines" in page.text

    assert await _audited(portal) == [
        "policy_rule_added",
        "policy_rule_added",
        "policy_rule_added",
        "policy_rules_set",
        "policy_rules_set",
        "policy_rule_removed",
        "policy_mode_set",
        "policy_capacity_set",
        "policy_waitlist_set",
        "policy_rubric_set",
        "policy_capacity_set",  # the unchanged waitlist order wrote nothing
        "policy_rubric_set",
    ]


async def test_bad_input_shows_why_and_changes_nothing(portal, simulator, automations) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Careful Dinner")
    url = f"/web/events/{event_id}/policy"
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(url)).text)
        bad = await admin.post(f"{url}/rules/add", data={"csrf": token, "rule": "welcome acme.com"})
        assert bad.status_code == 422
        assert 'id="rule-error"' in bad.text
        assert "A rule starts with what to do: approve, waitlist, decline or hold" in bad.text
        assert 'value="welcome acme.com"' in bad.text  # kept to be fixed
        unknown = await admin.post(
            f"{url}/rules/add", data={"csrf": token, "rule": "approve shoe size 44"}
        )
        assert unknown.status_code == 422 and "I do not know the condition" in unknown.text
        for path, data in (
            ("seats", {"capacity": "lots", "waitlist_order": "registered"}),
            ("seats", {"capacity": "5", "waitlist_order": "loudest"}),
            ("mode", {"mode": "yolo"}),
            ("rubric", {"rubric": "x" * 2_001}),
            ("rules/remove", {"number": "1", "shown": "approve everyone"}),
            ("rules/move", {"number": "1", "shown": "approve everyone", "direction": "up"}),
        ):
            refused = await admin.post(f"{url}/{path}", data={"csrf": token, **data})
            assert refused.status_code in (400, 409, 422), (path, refused.text)
            assert "<h1>" in refused.text  # the portal's error page, not a JSON body
    assert await _row(portal, event_id) is None
    assert await _audited(portal) == []


async def test_members_read_the_policy_but_cannot_change_it(portal, simulator, automations) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Members Dinner")
    url = f"/web/events/{event_id}/policy"
    async with portal.signed_in(Role.MEMBER) as member:
        shown = await member.get(url)
        assert shown.status_code == 200
        content = _main(shown.text)
        assert "<form" not in content and 'name="csrf"' not in content
        assert "Only an admin can change this policy" in content
        token = csrf_of(shown.text)  # the frame's sign-out form carries one
        for path, data in (
            ("rules/add", {"rule": "approve from acme.com"}),
            ("rules/remove", {"number": "1", "shown": "x"}),
            ("rules/move", {"number": "1", "shown": "x", "direction": "down"}),
            ("mode", {"mode": "auto"}),
            ("seats", {"capacity": "10", "waitlist_order": "vip"}),
            ("rubric", {"rubric": "decline everyone", "may_decline": "on"}),
        ):
            refused = await member.post(f"{url}/{path}", data={"csrf": token, **data})
            assert refused.status_code == 403 and "Admins only" in refused.text, path
        invites = await member.get(f"/web/events/{event_id}/invites")
        assert invites.status_code == 200 and "<form" not in _main(invites.text)
        previewed = await member.post(
            f"/web/events/{event_id}/invites/preview",
            data={"csrf": token, "text": "a@b.example", "how": "add"},
        )
        assert previewed.status_code == 403
    assert await _row(portal, event_id) is None
    async with portal.sessions() as session:
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.org_id == portal.org.org_id, AuditEntry.action.like("policy_%"))
        )
    assert audited == 0


async def test_the_dry_run_shows_rule_reasons(portal, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=4, status_mix={"pending_approval": 1.0}
    )
    url = f"/web/events/{event_id}/policy"
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(url)).text)
        added = await admin.post(f"{url}/rules/add", data={"csrf": token, "rule": "hold everyone"})
        assert added.status_code == 303
        tested = await admin.get(f"{url}?test=1")
        assert "Test: 4 pending guest(s), nothing written" in tested.text
        assert f"rule 1: {Rule(action=Action.HOLD).describe()}" in tested.text
    assert not [w for w in simulator.state.writes if w.endpoint == "update-guest-status"]


async def test_the_dry_run_with_luma_down_shows_a_page_saying_so(
    portal, simulator, automations
) -> None:
    event_id = await synced_event(
        simulator, automations, portal.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    async with portal.signed_in(Role.ADMIN) as admin:
        simulator.state.configure(error_rate=1.0)  # every answer a 5xx, retries included
        try:
            tested = await admin.get(f"/web/events/{event_id}/policy?test=1")
        finally:
            simulator.state.configure(error_rate=0.0)
    assert tested.status_code == 503
    assert "Not available right now" in tested.text
    assert html.escape(LumaUnavailableError.user_message) in tested.text
