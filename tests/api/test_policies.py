"""Approval policies through the control API: rules, mode, dry run, refusals, tenants apart."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from luma.errors import LumaUnavailableError
from store.models import ApprovalPolicy, AuditEntry
from tests.api.conftest import error_of, synced_event


def pending_domains(simulator, event_id: str) -> Counter[str]:
    guests = simulator.state.event(event_id).guests.values()
    return Counter(
        guest.person.email.rsplit("@", 1)[1].lower()
        for guest in guests
        if guest.approval_status == "pending_approval"
    )


async def test_rules_mode_and_dry_run(tenant, simulator, automations, sessions) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        tenant.org,
        name="Gala",
        guests=30,
        status_mix={"pending_approval": 0.7, "approved": 0.3},
    )
    client, base = tenant.client, f"/v1/events/{event_id}/policy"

    empty = (await client.get(base)).json()
    assert (empty["mode"], empty["rules"], empty["inherited"]) == ("off", [], False)

    domains = pending_domains(simulator, event_id)
    domain, approved = domains.most_common(1)[0]
    rules = [
        {"action": "decline", "emails": ["nobody@banned.example"]},
        {"action": "approve", "domains": [f"@{domain.upper()}"]},
    ]
    saved = await client.put(f"{base}/rules", json={"rules": rules})
    assert saved.status_code == 200, saved.text
    assert saved.json()["described"] == [
        "decline email nobody@banned.example",
        f"approve email at {domain}",
    ]
    assert (await client.get(base)).json()["rules"][1]["domains"] == [domain]

    moded = await client.put(f"{base}/mode", json={"mode": "suggest"})
    assert moded.json()["mode"] == "suggest"

    run = (await client.post(f"{base}/dry-run")).json()
    pending = sum(domains.values())
    assert run["pending"] == pending and run["written"] == 0
    expected = {"approve": approved} | ({"hold": pending - approved} if pending > approved else {})
    assert run["counts"] == expected
    reasons = {example["action"]: example["reason"] for example in run["examples"]}
    assert reasons["approve"] == f"rule 2: approve email at {domain}"
    assert not simulator.state.writes  # a dry run writes nothing to Luma

    async with sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.org_id == tenant.org.org_id)
                .order_by(AuditEntry.id)
            )
        )
    assert actions[-2:] == ["policy_rules_set", "policy_mode_set"]


async def test_bad_rules_and_modes_are_refused_and_change_nothing(
    tenant, simulator, automations, sessions
) -> None:
    event_id = await synced_event(simulator, automations, tenant.org, name="Gala", guests=3)
    client, base = tenant.client, f"/v1/events/{event_id}/policy"
    for rules in (
        [{"action": "approve", "domains": ["acme"]}],
        [{"action": "hold", "answer": {"question": "Role", "value": "(", "how": "matches"}}],
        [{"action": "approve", "colour": "blue"}],
        [{"action": "maybe"}],
        [{"action": "hold"}] * 51,
    ):
        refused = await client.put(f"{base}/rules", json={"rules": rules})
        assert refused.status_code == 422, refused.text
        assert error_of(refused)["code"]
    assert (await client.put(f"{base}/mode", json={"mode": "sometimes"})).status_code == 422
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(ApprovalPolicy).where(ApprovalPolicy.org_id == tenant.org.org_id)
            )
        ).all()
    assert rows == []


async def test_another_org_cannot_see_or_change_the_policy(
    tenant, other, simulator, automations
) -> None:
    event_id = await synced_event(simulator, automations, tenant.org, name="Gala", guests=3)
    base = f"/v1/events/{event_id}/policy"
    await tenant.client.put(f"{base}/rules", json={"rules": [{"action": "approve"}]})
    for method, path, body in (
        ("GET", base, None),
        ("PUT", f"{base}/rules", {"rules": []}),
        ("PUT", f"{base}/mode", {"mode": "auto"}),
        ("POST", f"{base}/dry-run", None),
    ):
        answer = await other.client.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    mine = (await tenant.client.get(base)).json()
    assert (mine["mode"], len(mine["rules"])) == ("off", 1)


async def test_a_dry_run_with_luma_down_says_so(tenant, simulator, automations) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    simulator.state.configure(error_rate=1.0)  # every answer a 5xx, retries included
    try:
        run = await tenant.client.post(f"/v1/events/{event_id}/policy/dry-run")
    finally:
        simulator.state.configure(error_rate=0.0)
    assert run.status_code == 503
    assert error_of(run) == {"code": "unavailable", "message": LumaUnavailableError.user_message}
