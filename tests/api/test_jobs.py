"""Jobs: listing with schedules, progress, pause / resume / cancel, refusals."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from catalog.guest_filter import GuestFilter
from services.automations import Automations
from tests.api.conftest import error_of, synced_event
from tests.conftest import eventually, settled
from workflows import ids


async def test_jobs_list_workflows_and_schedules(tenant, automations, simulator) -> None:
    org_id = tenant.org.org_id
    await synced_event(simulator, automations, tenant.org, guests=2)
    await automations.ensure_sync_schedule(org_id)
    try:

        async def listed() -> list[dict[str, Any]]:
            jobs = (await tenant.client.get("/v1/jobs")).json()["jobs"]
            return jobs if any(job["kind"] == "sync" for job in jobs) else []

        jobs = await eventually(listed)
        schedule = jobs[0]
        assert schedule["workflow_id"] == ids.sync_schedule_id(org_id)
        assert (schedule["kind"], schedule["status"]) == ("sync-schedule", "scheduled")
        assert schedule["web_url"].endswith(f"/web/jobs/sync-schedule-{org_id}")
        sync = next(job for job in jobs if job["kind"] == "sync")
        assert sync["status"] == "completed" and sync["started_at"]

        detail = await tenant.client.get(f"/v1/jobs/{sync['workflow_id']}")
        assert detail.status_code == 200
        assert detail.json()["kind"] == "sync" and detail.json()["progress"] is None
        scheduled = await tenant.client.get(f"/v1/jobs/{schedule['workflow_id']}")
        assert scheduled.json()["status"] == "scheduled"
    finally:
        await automations.on_org_unlinked(org_id, [])


async def test_progress_pause_resume_cancel(tenant, automations, simulator) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=300, status_mix={"pending_approval": 1.0}
    )
    simulator.state.configure(latency_seconds=0.05)
    started = await tenant.client.post(
        f"/v1/events/{event_id}/bulk-status", json={"target_status": "approved", "all": True}
    )
    job_url = f"/v1/jobs/{started.json()['workflow_id']}"

    async def working() -> dict[str, Any] | None:
        detail = (await tenant.client.get(job_url)).json()
        return detail if detail["progress"] and detail["progress"]["done"] > 0 else None

    detail = await eventually(working)
    assert (detail["kind"], detail["status"]) == ("bulk", "running")
    assert detail["progress"]["total"] == 300

    paused = await tenant.client.post(f"{job_url}/pause")
    assert paused.status_code == 200 and paused.json()["progress"]["phase"] == "paused"
    again = await tenant.client.post(f"{job_url}/pause")
    assert again.status_code == 409 and "already paused" in error_of(again)["message"]

    async def done() -> int:
        return (await tenant.client.get(job_url)).json()["progress"]["done"]

    assert await settled(done) < 300  # the batch in flight ends, then nothing moves

    resumed = await tenant.client.post(f"{job_url}/resume")
    assert resumed.json()["progress"]["phase"] == "applying"
    cancelled = await tenant.client.post(f"{job_url}/cancel")
    assert cancelled.json()["progress"]["phase"] == "cancelling"
    report = await automations.bulk_handle(started.json()["workflow_id"]).result()
    assert report.cancelled and 0 < report.done < 300

    finished = (await tenant.client.get(job_url)).json()
    assert finished["status"] == "completed" and finished["progress"]["phase"] == "finished"
    late = await tenant.client.post(f"{job_url}/resume")
    assert late.status_code == 409 and "no longer running" in error_of(late)["message"]


async def test_job_refusals(tenant, automations, simulator) -> None:
    await synced_event(simulator, automations, tenant.org, guests=1)
    sync_id = ids.sync_id(tenant.org.org_id)
    not_bulk = await tenant.client.post(f"/v1/jobs/{sync_id}/pause")
    assert not_bulk.status_code == 409 and "Only bulk" in error_of(not_bulk)["message"]
    unknown = await tenant.client.get("/v1/jobs/bulk-0-evt-nothing")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"
    odd_action = await tenant.client.post(f"/v1/jobs/{sync_id}/explode")
    assert odd_action.status_code == 422 and "action" in error_of(odd_action)["message"]


async def test_control_without_a_worker_answers_503_at_once(tenant, automations, simulator) -> None:
    event_id = await synced_event(
        simulator, automations, tenant.org, guests=3, status_mix={"pending_approval": 1.0}
    )
    # A job whose task queue no worker serves (every worker down).
    orphaned = Automations(
        automations.client, replace(automations.defaults, task_queue=f"none-{uuid.uuid4().hex}")
    )
    job = await orphaned.start_bulk(
        org_id=tenant.org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
    )
    try:
        refused = await tenant.client.post(f"/v1/jobs/{job.workflow_id}/pause")
        assert refused.status_code == 503
        error = error_of(refused)
        assert error["code"] == "unavailable"
        assert error["message"].startswith("No automation worker is running")
    finally:
        await automations.handle(job.workflow_id).terminate()
