"""Pause and cancel stop a bulk job within seconds, whatever its size, and the report is true.

Luma answers slowly here (the simulator's latency), so a job of 240 guests takes about 20 s:
long enough to stop it part way. "It stopped" is checked without a wall-clock bound that
could flake: the count of Luma's writes a few seconds after the pause returned equals the
count some seconds later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from catalog.guest_filter import GuestFilter
from standins.luma.model import WriteRecord
from tests.conftest import eventually
from workflows.bulk import BulkReport

log = logging.getLogger(__name__)

LATENCY = 0.5  # seconds per Luma call; 8 in flight


def writes(sim, event_id: str) -> list[WriteRecord]:
    return [w for w in sim.state.writes if w.event_id == event_id]


def statuses(sim, event_id: str) -> Counter[str]:
    return Counter(guest.approval_status for guest in sim.state.event(event_id).guests.values())


async def start(automations, org, event_id: str):
    return await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=1,
        event_name="Slow Gala",
    )


async def reached(sim, event_id: str, count: int) -> None:
    await eventually(lambda: len(writes(sim, event_id)) >= count, timeout=60, interval=0.02)


async def result(automations, workflow_id: str) -> BulkReport:
    return await automations.bulk_handle(workflow_id).result()


async def test_pause_stops_writes_within_seconds_and_resume_finishes(
    automations, simulator, org
) -> None:
    simulator.state.configure(latency_seconds=LATENCY)
    event_id = simulator.state.add_event(
        org.calendar_id, name="Slow Gala", guests=240, status_mix={"pending_approval": 1.0}
    )
    reads_before = simulator.state.counters["op:guest"]
    wid = (await start(automations, org, event_id)).workflow_id
    await reached(simulator, event_id, 60)  # about a quarter

    paused = await automations.control_bulk(wid, "pause", requested_by=1)
    returned = time.time()
    assert paused.phase == "paused"
    at_pause = len(writes(simulator, event_id))
    await asyncio.sleep(3)
    after_3s = len(writes(simulator, event_id))
    await asyncio.sleep(5)
    after_8s = len(writes(simulator, event_id))
    assert after_3s == after_8s < 240  # it stopped, and well before the end
    last = max(w.at for w in writes(simulator, event_id))
    log.info(
        "pause: %d writes when it returned, %d after it (the last %.2f s after)",
        at_pause,
        after_3s - at_pause,
        last - returned,
    )
    frozen = await automations.bulk_progress(wid)
    assert frozen.phase == "paused" and frozen.done == after_3s  # every write counted

    await automations.control_bulk(wid, "resume", requested_by=1)
    report = await result(automations, wid)
    assert (report.total, report.done, report.cancelled) == (240, 240, False)
    per_guest = Counter(w.guest_id for w in writes(simulator, event_id))
    assert len(per_guest) == 240 and set(per_guest.values()) == {1}
    assert statuses(simulator, event_id) == {"approved": 240}
    # Guests claimed ahead of their writes when the pause came were given back, not left
    # "sending" for the resumed job to check with Luma one by one.
    assert simulator.state.counters["op:guest"] == reads_before


async def test_cancel_half_way_leaves_the_rest_and_reports_what_happened(
    automations, simulator, org
) -> None:
    simulator.state.configure(latency_seconds=LATENCY)
    event_id = simulator.state.add_event(
        org.calendar_id, name="Slow Gala", guests=240, status_mix={"pending_approval": 1.0}
    )
    wid = (await start(automations, org, event_id)).workflow_id

    async def progress_moved() -> bool:
        # Progress moves while the job runs, not only at the end of a 50-guest batch.
        return 0 < (await automations.bulk_progress(wid)).done < 50

    await eventually(progress_moved, timeout=60, interval=0.1)
    await reached(simulator, event_id, 120)  # about half

    cancelling = await automations.control_bulk(wid, "cancel", requested_by=1)
    returned = time.time()
    assert cancelling.phase == "cancelling"
    at_cancel = len(writes(simulator, event_id))
    report = await result(automations, wid)
    landed = writes(simulator, event_id)
    log.info(
        "cancel: %d writes when it returned, %d after it (the last %.2f s after)",
        at_cancel,
        len(landed) - at_cancel,
        max(w.at for w in landed) - returned,
    )
    left = 240 - report.done
    assert report.cancelled and report.total == 240 and 120 <= report.done < 240
    assert report.done == len(landed) == len({w.guest_id for w in landed})
    assert statuses(simulator, event_id) == {"approved": report.done, "pending_approval": left}
    assert (
        f"Cancelled after {report.done} of 240: {report.done} approved, "
        f"{left} left as they were." in report.text
    )
    await asyncio.sleep(2)
    assert len(writes(simulator, event_id)) == report.done  # nothing more after the report


async def test_a_job_smaller_than_a_batch_can_be_cancelled(automations, simulator, org) -> None:
    simulator.state.configure(latency_seconds=1.0)
    event_id = simulator.state.add_event(
        org.calendar_id, name="Slow Gala", guests=49, status_mix={"pending_approval": 1.0}
    )
    wid = (await start(automations, org, event_id)).workflow_id
    await reached(simulator, event_id, 1)
    await automations.control_bulk(wid, "cancel", requested_by=1)
    report = await result(automations, wid)
    landed = writes(simulator, event_id)
    assert report.cancelled and 0 < report.done == len(landed) < 49
    assert f"{49 - report.done} left as they were" in report.text


async def test_a_cancel_after_the_last_guest_is_not_reported_as_cancelled(
    automations, simulator, org
) -> None:
    """The last guests were in flight when the cancel came: the job finished, and says so."""
    simulator.state.configure(latency_seconds=0.8)
    event_id = simulator.state.add_event(
        org.calendar_id, name="Slow Gala", guests=12, status_mix={"pending_approval": 1.0}
    )
    sent_before = simulator.state.counters["op:update_status"]
    wid = (await start(automations, org, event_id)).workflow_id
    # 8 calls at a time: the cancel comes once Luma has received all 12 (the last of them
    # in flight, or landed already on a slow machine), whatever the machine's pace.
    await eventually(
        lambda: simulator.state.counters["op:update_status"] - sent_before >= 12,
        timeout=60,
        interval=0.02,
    )
    await automations.control_bulk(wid, "cancel", requested_by=1)
    report = await result(automations, wid)
    assert (report.done, report.cancelled) == (12, False)
    assert "Bulk job finished" in report.text and "Approved: 12 of 12" in report.text
