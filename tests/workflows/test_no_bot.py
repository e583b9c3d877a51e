"""A worker without a bot posts nothing, and no workflow result says it did."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store.models import AuditEntry
from tests.workflows.conftest import worker_clients
from tests.workflows.test_timers import _link_chat
from worker import build_worker
from workflows.contracts.summary import SummaryInput, SummaryOutcome
from workflows.summary import PostEventSummaryWorkflow


async def test_a_summary_without_a_bot_lists_no_chat_as_posted(
    temporal_env, sessions, keybox, pool, simulator, org
) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id,
        name="Ended Meetup",
        start_at=datetime.now(UTC) - timedelta(hours=5),
        duration_hours=2,
        guests=10,
        status_mix={"approved": 1.0},
    )
    chat_id = -(10**12) - org.org_id
    await _link_chat(sessions, org.org_id, chat_id)
    queue = f"tq-{uuid.uuid4().hex}"
    client = temporal_env.client
    async with build_worker(client, queue, worker_clients(sessions, keybox, pool, bot=None)):
        outcome: SummaryOutcome = await client.execute_workflow(
            PostEventSummaryWorkflow.run,
            SummaryInput(org.org_id, event_id, delay_minutes=0),
            id=f"summary-nobot-{event_id}",
            task_queue=queue,
        )
    assert outcome.posted_to == [] and "Ended Meetup" in outcome.text
    async with sessions() as session:
        results = await session.scalars(
            select(AuditEntry.result).where(
                AuditEntry.action == "notify", AuditEntry.chat_id == chat_id
            )
        )
        assert list(results) == ["no bot configured"]
