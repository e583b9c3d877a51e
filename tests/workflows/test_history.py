"""Histories never hold a Luma key, and recorded histories replay deterministically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.worker import Replayer

from catalog.guest_filter import GuestFilter
from tests.conftest import DATA_CONVERTER
from tests.workflows.payloads import decrypted, stored_bytes
from worker import WORKFLOWS
from workflows import ids


async def test_histories_hold_no_key_and_replay(automations, simulator, org, sessions) -> None:
    event_id = simulator.state.add_event(
        org.calendar_id,
        start_at=datetime.now(UTC) + timedelta(days=1),
        guests=40,
        status_mix={"pending_approval": 1.0},
    )
    chat_id = -(10**13) - org.org_id
    bulk = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        chat_id=chat_id,
    )
    await automations.bulk_handle(bulk.workflow_id).result()
    sync = await automations.sync_now(org.org_id)
    await sync.result()
    refresh = await automations.refresh_guest(
        org.org_id, event_id, guest_id=next(iter(simulator.state.event(event_id).guests))
    )
    await refresh.result()
    digest = await automations.send_digest_now(chat_id=chat_id, org_id=org.org_id)
    await digest.result()
    summary = automations.handle(ids.summary_id(org.org_id, event_id))
    await summary.terminate("test over")

    handles = [automations.handle(h.id) for h in (sync, refresh, digest)]
    handles += [automations.handle(bulk.workflow_id), summary]
    histories = [await handle.fetch_history() for handle in handles]
    codec = DATA_CONVERTER.payload_codec
    assert codec is not None
    for history in histories:
        # Decrypted: the key must be absent from what the workflows carry, not just hidden.
        readable = stored_bytes(await decrypted(history, codec))
        assert org.api_key.encode() not in readable
        assert org.api_key[-12:].encode() not in readable
    kinds = {
        history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        for history in histories
    }
    assert kinds == {
        "BulkStatusWorkflow",
        "SyncOrgWorkflow",
        "RefreshGuestWorkflow",
        "DailyDigestWorkflow",
        "PostEventSummaryWorkflow",
    }

    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER)
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (history.workflow_id, result.replay_failure)
