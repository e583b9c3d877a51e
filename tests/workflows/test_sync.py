"""Guest-list sync, webhook refreshes and the schedules that drive them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import ScheduleCalendarSpec

from services.automations import JobInfo
from services.automations.sync import spread
from store import cache, orgs
from store.models import AutomationSettings
from workflows import ids
from workflows.contracts.summary import SummaryInput
from workflows.contracts.sync import SyncReport


async def test_sync_fills_the_cache_and_marks_gone(automations, simulator, org, sessions) -> None:
    now = datetime.now(UTC)
    upcoming = simulator.state.add_event(
        org.calendar_id,
        name="Summer Mixer",
        city="Dubai",
        start_at=now + timedelta(days=5),
        guests=230,
        status_mix={"approved": 0.5, "pending_approval": 0.3, "invited": 0.2},
    )
    old = simulator.state.add_event(
        org.calendar_id, name="Old Meetup", start_at=now - timedelta(days=90), guests=10
    )
    async with sessions.begin() as session:  # a guest Luma no longer has
        await cache.upsert_guests(
            session,
            org_id=org.org_id,
            luma_event_id=upcoming,
            guests=[
                {
                    "luma_guest_id": "gst-removed",
                    "email": "gone@x.com",
                    "normalized_email": "gone@x.com",
                    "email_domain": "x.com",
                    "approval_status": "approved",
                }
            ],
        )

    handle = await automations.sync_now(org.org_id)
    report: SyncReport = await handle.result()
    assert report.events == 2 and report.events_synced == 2  # never-synced past events too
    assert report.guests == 240 and report.gone == 1
    assert report.profiles > 0  # one per person across the org's events

    async with sessions() as session:
        counts = await cache.count_by_status(session, org_id=org.org_id, luma_event_id=upcoming)
        assert counts == {"approved": 115, "pending_approval": 69, "invited": 46}
        event = await cache.get_event(session, org_id=org.org_id, luma_event_id=upcoming)
        assert event is not None and event.city == "Dubai" and event.guests_synced_at
        stored = await orgs.get_org(session, org_id=org.org_id)
        assert stored is not None and stored.last_synced_at is not None

    # Summaries are started once per event still worth summarizing; a second sync adds none.
    summary = automations.handle(ids.summary_id(org.org_id, upcoming))
    assert (await summary.describe()).status.name == "RUNNING"
    second: SyncReport = await (await automations.sync_now(org.org_id)).result()
    assert second.summaries_started == 0 and second.events_synced == 1  # the old one is done
    await summary.terminate("test over")
    del old


async def test_webhook_refresh_updates_one_guest(automations, simulator, org, sessions) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id, guests=3, status_mix={"pending_approval": 1.0}
    )
    await (await automations.sync_now(org.org_id)).result()
    guest = next(iter(simulator.state.event(event_id).guests.values()))
    guest.approval_status = "approved"  # changed in Luma behind our back
    handle = await automations.refresh_guest(org.org_id, event_id, guest_id=guest.id)
    assert await handle.result() == "approved"
    async with sessions() as session:
        counts = await cache.count_by_status(session, org_id=org.org_id, luma_event_id=event_id)
    assert counts == {"approved": 1, "pending_approval": 2}


async def test_schedules_follow_link_digest_and_unlink(automations, org) -> None:
    sync_schedule = ids.sync_schedule_id(org.org_id)
    chat_id = -100_000 - org.org_id
    await automations.ensure_sync_schedule(org.org_id)
    described = await automations.client.get_schedule_handle(sync_schedule).describe()
    assert described.schedule.spec.intervals[0].every == timedelta(minutes=15)
    # Each org at its own point of the interval: schedules do not all fire at once.
    assert described.schedule.spec.intervals[0].offset == spread(org.org_id, timedelta(minutes=15))
    offsets = {spread(org_id, timedelta(minutes=15)) for org_id in range(1, 101)}
    assert len(offsets) > 90 and max(offsets) < timedelta(minutes=15)
    await automations.ensure_sync_schedule(org.org_id, interval_minutes=30)  # updated in place
    described = await automations.client.get_schedule_handle(sync_schedule).describe()
    assert described.schedule.spec.intervals[0].every == timedelta(minutes=30)
    assert described.schedule.policy.overlap.name == "SKIP"

    await automations.set_digest(
        chat_id=chat_id, org_id=org.org_id, at="08:30", timezone="Europe/Lisbon"
    )
    digest = await automations.client.get_schedule_handle(
        ids.digest_schedule_id(chat_id)
    ).describe()
    calendar: ScheduleCalendarSpec = digest.schedule.spec.calendars[0]
    assert (calendar.hour[0].start, calendar.minute[0].start) == (8, 30)
    assert digest.schedule.spec.time_zone_name == "Europe/Lisbon"
    await automations.set_digest(chat_id=chat_id, org_id=org.org_id, at="19:05", timezone="UTC")
    digest = await automations.client.get_schedule_handle(
        ids.digest_schedule_id(chat_id)
    ).describe()
    assert digest.schedule.spec.calendars[0].hour[0].start == 19

    await automations.on_org_unlinked(org.org_id, [chat_id])
    assert not await automations.schedule_exists(sync_schedule)
    assert not await automations.schedule_exists(ids.digest_schedule_id(chat_id))
    assert not await automations.clear_digest(chat_id)  # already gone: nothing to do


async def test_jobs_are_listed_per_org_with_search_attributes(automations, simulator, org) -> None:
    await (await automations.sync_now(org.org_id)).result()

    async def listed() -> list[JobInfo]:
        return await automations.list_jobs(org.org_id)

    from tests.conftest import eventually

    jobs = await eventually(listed)
    assert {job.kind for job in jobs} >= {"sync"}
    assert all(
        job.workflow_id.endswith(str(org.org_id)) or str(org.org_id) in job.workflow_id
        for job in jobs
    )
    assert await automations.list_jobs(org.org_id + 10_000) == []


async def test_summaries_wait_the_delay_the_chats_chose(
    automations, simulator, org, sessions
) -> None:
    ended = simulator.state.add_event(
        org.calendar_id, start_at=datetime.now(UTC) - timedelta(hours=3), guests=3
    )
    async with sessions.begin() as session:
        for chat_id, delay, wanted in ((-4001, 45, True), (-4002, 20, True), (-4003, 5, False)):
            await orgs.link_chat(
                session, chat_id=chat_id, org_id=org.org_id, kind="group", title="t", linked_by=1
            )
            session.add(
                AutomationSettings(
                    chat_id=chat_id,
                    org_id=org.org_id,
                    post_event_summary=wanted,
                    summary_delay_minutes=delay,
                )
            )

    await (await automations.sync_now(org.org_id)).result()
    summary = automations.handle(ids.summary_id(org.org_id, ended))
    started = (await summary.fetch_history()).events[0]
    (payload,) = started.workflow_execution_started_event_attributes.input.payloads
    job = await automations.client.data_converter.decode([payload], [SummaryInput])
    assert job[0].delay_minutes == 20  # the soonest of the chats that want a summary
    await summary.terminate("test over")
