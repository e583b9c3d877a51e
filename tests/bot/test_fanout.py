"""Outbound Telegram within Telegram's limits (issue 17, item 3): 300 digests due at the same
minute all arrive, and the Bot API stand-in, enforcing Telegram's limits, refuses none."""

from __future__ import annotations

import asyncio
import uuid

from standins.telegram.flood import FloodLimits
from workflows.contracts.digest import DigestInput
from workflows.digest import DailyDigestWorkflow

CHATS = 300


async def test_three_hundred_digests_at_once_arrive_without_a_flood_wait(world) -> None:
    calendar, _group, admin = await world.linked_group()
    groups = [world.group(admin=admin) for _ in range(CHATS)]
    for group in groups:
        await world.link(calendar, group, admin)
    world.tg.flood = FloodLimits()  # Telegram's: 30 a second, 1 a second a chat, 20 a minute
    try:
        automations = world.deps.automations
        handles = await asyncio.gather(
            *(
                automations.client.start_workflow(
                    DailyDigestWorkflow.run,
                    DigestInput(chat_id=group, org_id=calendar.org_id, force=True),
                    id=f"digest-fanout-{uuid.uuid4().hex[:10]}",
                    task_queue=automations.defaults.task_queue,
                )
                for group in groups
            )
        )
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(handle.result() for handle in handles)), timeout=240
        )
    finally:
        refused, world.tg.flood = world.tg.flood.refused, None
    assert all(outcome.posted for outcome in outcomes)
    assert refused == 0
    assert all(len(world.tg.messages(group)) == 1 for group in groups)
