"""`services.jobs`: the org's jobs and schedules, another org's job as "not found", and who
may pause / resume / cancel (one audit row per control)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from bot.routers.automations import _job_line
from catalog.guest_filter import GuestFilter
from services import bulk, jobs
from services.automations import Automations, JobInfo
from services.caller import Conflict, Forbidden, NotFound, Unavailable
from store.models import utcnow
from store.orgs import upsert_user
from tests.api.conftest import synced_event
from tests.conftest import RULES, eventually
from tests.services.conftest import admin_of, audit_rows, member_of
from tests.workflows.conftest import link_calendar, worker_clients
from worker import build_worker
from workflows import ids


async def test_list_includes_the_enrichment_schedule_and_hides_other_orgs(
    sessions, automations, simulator, keybox, org
) -> None:
    other = await link_calendar(sessions, keybox, simulator, "Other org")
    await synced_event(simulator, automations, other, guests=1)
    await automations.set_enrichment_schedule(org.org_id, True)
    try:
        async with sessions() as session:
            found = await jobs.list_jobs(session, automations, member_of(org.org_id))
            schedule = await jobs.get_job(
                session, automations, member_of(org.org_id), ids.enrich_schedule_id(org.org_id)
            )
            with pytest.raises(NotFound):  # another org's job looks like a made-up one
                await jobs.get_job(
                    session, automations, member_of(org.org_id), ids.sync_id(other.org_id)
                )
            with pytest.raises(NotFound):
                await jobs.get_job(
                    session, automations, member_of(org.org_id), ids.sync_schedule_id(other.org_id)
                )
    finally:
        await automations.set_enrichment_schedule(org.org_id, False)
    assert [(job.workflow_id, job.kind) for job in found.schedules] == [
        (ids.enrich_schedule_id(org.org_id), "enrich-schedule")
    ]
    assert (schedule.status, schedule.web_url) == (
        "scheduled",
        automations.job_url(ids.enrich_schedule_id(org.org_id)),
    )
    assert schedule.web_url.endswith(f"/web/jobs/{ids.enrich_schedule_id(org.org_id)}")
    assert all(job.workflow_id != ids.sync_id(other.org_id) for job in found.workflows)


async def test_control_is_for_admins_of_the_org_and_bulk_jobs_only(
    sessions, automations, simulator, pro, org
) -> None:
    event_id = await synced_event(
        simulator, automations, org, guests=60, status_mix={"pending_approval": 1.0}
    )
    simulator.state.configure(latency_seconds=0.05)
    try:
        started = await bulk.start_bulk(
            admin_of(org.org_id),
            bulk.BulkRequest(event_id, "approved", GuestFilter(statuses=["pending_approval"])),
            sessions=sessions,
            automations=automations,
            billing=pro,
            vip_defaults=RULES,
        )
        job_id = started.job.workflow_id
        with pytest.raises(Forbidden):
            await jobs.control_job(
                member_of(org.org_id), job_id, "pause", sessions=sessions, automations=automations
            )
        with pytest.raises(NotFound):
            await jobs.control_job(
                admin_of(org.org_id + 10**6),
                job_id,
                "pause",
                sessions=sessions,
                automations=automations,
            )
        with pytest.raises(Conflict) as not_bulk:
            await jobs.control_job(
                admin_of(org.org_id),
                ids.sync_id(org.org_id),
                "pause",
                sessions=sessions,
                automations=automations,
            )
        assert not_bulk.value.message.startswith("Only bulk")

        async def working() -> bool:
            async with sessions() as session:
                job = await jobs.get_job(session, automations, member_of(org.org_id), job_id)
            return bool(job.progress and job.progress.done > 0)

        await eventually(working)
        cancelled = await jobs.control_job(
            admin_of(org.org_id), job_id, "cancel", sessions=sessions, automations=automations
        )
    finally:
        simulator.state.configure(latency_seconds=0.0)
    assert cancelled.progress is not None and cancelled.progress.phase == "cancelling"
    await automations.bulk_handle(job_id).result()
    with pytest.raises(Conflict) as late:
        await jobs.control_job(
            admin_of(org.org_id), job_id, "resume", sessions=sessions, automations=automations
        )
    assert "no longer running" in late.value.message
    [entry] = await audit_rows(sessions, org.org_id, "bulk_cancel")
    assert (entry.result, entry.target, entry.actor_user_id) == (
        "cancelling",
        {"job": job_id},
        7001,
    )


async def test_jobs_carry_the_event_name_the_action_and_who_asked(
    sessions, automations, simulator, free, org
) -> None:
    event_id = await synced_event(
        simulator,
        automations,
        org,
        name="Named Dinner",
        guests=2,
        status_mix={"pending_approval": 1.0},
    )
    user_id = 7_777_001
    caller = admin_of(org.org_id, user_id=user_id)
    async with sessions.begin() as session:
        await upsert_user(session, user_id=user_id, username="ada", full_name="Ada Admin")
    started = await bulk.start_bulk(
        caller,
        bulk.BulkRequest(event_id, "approved", GuestFilter(statuses=["pending_approval"])),
        sessions=sessions,
        automations=automations,
        billing=free,
        vip_defaults=RULES,
    )
    await automations.bulk_handle(started.job.workflow_id).result()

    async def listed() -> JobInfo | None:
        async with sessions() as session:
            found = await jobs.list_jobs(session, automations, member_of(org.org_id))
        return next((j for j in found.workflows if j.workflow_id == started.job.workflow_id), None)

    job = await eventually(listed)
    assert (job.action, job.event_id, job.event_name) == (
        "Bulk status change",
        event_id,
        "Named Dinner",
    )
    assert (job.requested_by, job.requested_by_name) == (user_id, "Ada Admin")
    async with sessions() as session:
        one = await jobs.get_job(session, automations, member_of(org.org_id), job.workflow_id)
    assert (one.event_name, one.requested_by_name) == ("Named Dinner", "Ada Admin")

    line = _job_line(job, utcnow())
    assert "Bulk status change" in line and "Named Dinner" in line and "by Ada Admin" in line
    assert job.workflow_id not in line.split("href=")[0]


async def _bulk_on(queue: str, automations, sessions, pro, org, event_id: str) -> str:
    """A bulk job started on `queue`, where no worker may be running."""
    elsewhere = Automations(automations.client, replace(automations.defaults, task_queue=queue))
    started = await bulk.start_bulk(
        admin_of(org.org_id),
        bulk.BulkRequest(event_id, "approved", GuestFilter(statuses=["pending_approval"])),
        sessions=sessions,
        automations=elsewhere,
        billing=pro,
        vip_defaults=RULES,
    )
    return started.job.workflow_id


async def test_control_without_a_worker_is_refused_and_nothing_applies_later(
    sessions, automations, simulator, pro, org, keybox, pool
) -> None:
    event_id = await synced_event(
        simulator, automations, org, guests=5, status_mix={"pending_approval": 1.0}
    )
    queue = f"no-worker-{uuid.uuid4().hex}"
    job_id = await _bulk_on(queue, automations, sessions, pro, org, event_id)
    with pytest.raises(Unavailable) as refused:  # at once: no worker ever polled this queue
        await jobs.control_job(
            admin_of(org.org_id), job_id, "pause", sessions=sessions, automations=automations
        )
    assert refused.value.status == 503
    assert refused.value.message.startswith("No automation worker is running")
    assert "nothing was changed" in refused.value.message
    # It was never sent: once a worker runs, the job runs to its end unpaused.
    async with build_worker(automations.client, queue, worker_clients(sessions, keybox, pool)):
        report = await automations.bulk_handle(job_id).result()
    assert report.done == 5 and not report.cancelled
    assert not await audit_rows(sessions, org.org_id, "bulk_pause")


async def test_control_no_worker_applies_in_time_is_refused_and_never_applies(
    sessions, automations, simulator, pro, org, keybox, pool
) -> None:
    event_id = await synced_event(
        simulator, automations, org, guests=5, status_mix={"pending_approval": 1.0}
    )
    queue = f"late-worker-{uuid.uuid4().hex}"
    clients = worker_clients(sessions, keybox, pool)
    async with build_worker(automations.client, queue, clients):
        # A worker that polled the queue, then stopped (a crash or a deploy).
        await eventually(lambda: automations.worker_alive(queue))
    job_id = await _bulk_on(queue, automations, sessions, pro, org, event_id)
    impatient = Automations(
        automations.client, replace(automations.defaults, control_timeout_seconds=0.5)
    )
    with pytest.raises(Unavailable) as late:
        await jobs.control_job(
            admin_of(org.org_id), job_id, "pause", sessions=sessions, automations=impatient
        )
    assert late.value.status == 503
    assert late.value.message.startswith("No automation worker answered within 0.5 s")
    assert "nothing was changed" in late.value.message
    assert not await audit_rows(sessions, org.org_id, "bulk_pause")
    async with build_worker(automations.client, queue, clients):  # true: it never applies
        report = await automations.bulk_handle(job_id).result()
    assert report.done == 5 and not report.cancelled


async def test_progress_while_no_worker_answers_is_the_last_written(
    sessions, automations, simulator, pro, org, keybox, pool
) -> None:
    """A worker stops mid-job: reads answer at once with the counts the snapshot holds
    (each equal to Luma's writes), and the job goes on once another worker runs."""
    event_id = await synced_event(
        simulator, automations, org, guests=60, status_mix={"pending_approval": 1.0}
    )
    simulator.state.configure(latency_seconds=0.2)
    queue = f"moving-{uuid.uuid4().hex}"
    clients = worker_clients(sessions, keybox, pool)
    job_id = await _bulk_on(queue, automations, sessions, pro, org, event_id)

    def written() -> int:
        return sum(1 for write in simulator.state.writes if write.event_id == event_id)

    async with build_worker(automations.client, queue, clients):
        await eventually(lambda: written() >= 10, timeout=30)
    # The worker stopped after its window: nothing more is written until another runs.
    stopped_at = written()
    assert 10 <= stopped_at < 60
    async with sessions() as session:
        progress = (await jobs.get_job(session, automations, admin_of(org.org_id), job_id)).progress
    assert progress is not None
    assert (progress.phase, progress.total, progress.done) == ("waiting", 60, stopped_at)
    simulator.state.configure(latency_seconds=0)
    async with build_worker(automations.client, queue, clients):
        report = await automations.bulk_handle(job_id).result()
    assert report.done == 60 and written() == 60
