"""Digests and post-event summaries under the time-skipping test server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.factory import create_bot
from standins.telegram import running_local_api
from store import orgs
from store.models import AuditEntry, AutomationSettings, EventSummary
from tests.workflows.conftest import worker_clients
from worker import build_worker
from workflows.contracts.digest import DigestInput, DigestOutcome
from workflows.contracts.summary import SummaryInput, SummaryOutcome
from workflows.digest import DailyDigestWorkflow
from workflows.summary import PostEventSummaryWorkflow


async def _link_chat(sessions, org_id: int, chat_id: int, **settings) -> None:
    async with sessions.begin() as session:
        await orgs.link_chat(
            session,
            chat_id=chat_id,
            org_id=org_id,
            kind="group",
            title="Team",
            linked_by=chat_id * -1,
        )
        session.add(AutomationSettings(chat_id=chat_id, org_id=org_id, **settings))


async def test_summary_waits_for_the_event_to_end(
    time_skipping_env, sessions, keybox, pool, simulator, org
) -> None:
    now = datetime.now(UTC)
    event_id = simulator.state.add_event(
        org.calendar_id,
        name="Lisbon Founders Workshop",
        city="Lisbon",
        start_at=now + timedelta(hours=1),
        duration_hours=3,
        guests=80,
        status_mix={"approved": 0.7, "declined": 0.1, "waitlist": 0.2},
    )
    chat_id = -(10**12) - org.org_id
    await _link_chat(sessions, org.org_id, chat_id)
    queue = f"tq-{uuid.uuid4().hex}"
    client = time_skipping_env.client
    async with running_local_api() as telegram:
        telegram.state.add_chat(chat_id, title="Team")
        bot = create_bot(telegram.state.default_bot.token, telegram.base_url)
        try:
            async with build_worker(client, queue, worker_clients(sessions, keybox, pool, bot)):
                handle = await client.start_workflow(
                    PostEventSummaryWorkflow.run,
                    SummaryInput(org.org_id, event_id, delay_minutes=120),
                    id=f"summary-test-{event_id}",
                    task_queue=queue,
                )
                outcome: SummaryOutcome = await handle.result()  # skips ~6 hours of waiting
        finally:
            await bot.session.close()
        (posted,) = telegram.state.photos(chat_id)  # text and chart, in one message
        assert posted.photo is not None and posted.photo.data.startswith(b"\x89PNG")
        assert "Lisbon Founders Workshop" in (posted.caption or "")
    assert outcome.posted_to == [chat_id]
    assert "Lisbon Founders Workshop" in outcome.text and "approved 56" in outcome.text
    assert await time_skipping_env.get_current_time() >= now + timedelta(hours=6)
    async with sessions() as session:
        stored = await session.scalar(
            select(EventSummary).where(EventSummary.luma_event_id == event_id)
        )
        assert stored is not None and stored.figures["approved"] == 56
        notices = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "notify", AuditEntry.chat_id == chat_id)
        )
        assert len(notices.all()) == 1


async def test_summary_follows_a_moved_event(
    time_skipping_env, sessions, keybox, pool, simulator, org
) -> None:
    now = datetime.now(UTC)
    event_id = simulator.state.add_event(
        org.calendar_id, start_at=now + timedelta(days=2), duration_hours=2, guests=5
    )
    queue = f"tq-{uuid.uuid4().hex}"
    client = time_skipping_env.client
    async with build_worker(client, queue, worker_clients(sessions, keybox, pool)):
        handle = await client.start_workflow(
            PostEventSummaryWorkflow.run,
            SummaryInput(org.org_id, event_id, delay_minutes=0),
            id=f"summary-moved-{event_id}",
            task_queue=queue,
        )
        # Moved a week later while the workflow waits: it re-reads and keeps waiting.
        event = simulator.state.event(event_id)
        event.start_at += 7 * 86400
        event.end_at += 7 * 86400
        await handle.result()
        assert await time_skipping_env.get_current_time() >= now + timedelta(days=9)


async def test_digest_sends_when_changed_or_forced(
    time_skipping_env, sessions, keybox, pool, simulator, org, automations
) -> None:
    simulator.state.add_event(
        org.calendar_id,
        name="Winter Gala",
        start_at=datetime.now(UTC) + timedelta(days=3),
        guests=30,
        status_mix={"pending_approval": 0.5, "approved": 0.5},
    )
    await (await automations.sync_now(org.org_id)).result()
    chat_id = -(10**12) - 500 - org.org_id
    await _link_chat(sessions, org.org_id, chat_id, digest_enabled=True)
    queue = f"tq-{uuid.uuid4().hex}"
    client = time_skipping_env.client
    async with running_local_api() as telegram:
        telegram.state.add_chat(chat_id, title="Team")
        bot = create_bot(telegram.state.default_bot.token, telegram.base_url)
        try:
            async with build_worker(client, queue, worker_clients(sessions, keybox, pool, bot)):

                async def digest(force: bool = False) -> DigestOutcome:
                    return await client.execute_workflow(
                        DailyDigestWorkflow.run,
                        DigestInput(chat_id, org.org_id, force),
                        id=f"digest-test-{uuid.uuid4().hex}",
                        task_queue=queue,
                    )

                first = await digest()
                assert first.sent and first.posted and "Winter Gala: 15 pending" in first.text
                assert "Next 7 days" in first.text
                unchanged = await digest()
                assert not unchanged.sent  # nothing new since the last one posted
                forced = await digest(force=True)
                assert forced.sent and forced.posted
        finally:
            await bot.session.close()
    assert len(telegram.state.messages(chat_id)) == 2
