"""Tenant isolation: org A's token cannot see or touch anything of org B."""

from __future__ import annotations

from store import orgs
from tests.api.conftest import error_of, synced_event


async def test_other_orgs_ids_are_unknown(tenant, other, simulator, automations, sessions) -> None:
    mine = await synced_event(simulator, automations, tenant.org, name="Mine", guests=2)
    theirs = await synced_event(
        simulator,
        automations,
        other.org,
        name="Theirs",
        guests=4,
        status_mix={"pending_approval": 1.0},
    )
    their_guest = next(iter(simulator.state.event(theirs).guests.values()))
    their_chat = -2_000_000 - other.org.org_id
    async with sessions.begin() as session:
        await orgs.link_chat(
            session,
            chat_id=their_chat,
            org_id=other.org.org_id,
            kind="group",
            title="B",
            linked_by=9,
        )
    their_job = await other.client.post(
        f"/v1/events/{theirs}/bulk-status", json={"target_status": "approved", "all": True}
    )
    assert their_job.status_code == 202
    job_id = their_job.json()["workflow_id"]
    await automations.bulk_handle(job_id).result()
    writes = len(simulator.state.writes)

    listed = (await tenant.client.get("/v1/events")).json()["events"]
    assert [event["id"] for event in listed] == [mine]
    a = tenant.client
    refused = [
        await a.get(f"/v1/events/{theirs}"),
        await a.get(f"/v1/events/{theirs}/guests"),
        await a.get(f"/v1/events/{theirs}/guests.csv"),
        await a.post(
            f"/v1/events/{theirs}/guests/{their_guest.person.email}/status",
            json={"status": "declined", "should_refund": False},
        ),
        await a.post(
            f"/v1/events/{theirs}/bulk-status",
            json={"target_status": "declined", "all": True, "should_refund": False},
        ),
        await a.post(
            f"/v1/events/{theirs}/bulk-status",
            json={"target_status": "declined", "all": True, "dry_run": True},
        ),
        await a.get(f"/v1/jobs/{job_id}"),
        await a.post(f"/v1/jobs/{job_id}/cancel"),
        await a.get(f"/v1/jobs/sync-{other.org.org_id}"),
        await a.get("/v1/digest", params={"chat_id": their_chat}),
        await a.put("/v1/digest", json={"chat_id": their_chat, "enabled": True}),
    ]
    for response in refused:
        assert response.status_code == 404, (response.request.url, response.text)
        assert error_of(response)["code"] == "not_found"
    assert len(simulator.state.writes) == writes

    my_jobs = (await a.get("/v1/jobs")).json()["jobs"]
    assert job_id not in {job["workflow_id"] for job in my_jobs}
    assert (await a.get("/v1/digest")).json() == {"chats": []}
    assert not await automations.schedule_exists(f"digest-schedule-{their_chat}")
    # B still sees its own.
    assert (await other.client.get(f"/v1/jobs/{job_id}")).status_code == 200
