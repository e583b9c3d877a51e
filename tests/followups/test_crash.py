"""Kill or stop the worker in the middle of a follow-up: a new worker finishes it, and
nobody gets two emails.

Both stops land at the worst moment on purpose: the SMTP server has accepted message 12 but
withholds its reply. Killed (SIGKILL), the worker never learns it was delivered, so the new
worker must neither resend it (at most once) nor lose any of the others. Stopped (SIGTERM),
the worker finishes that send, hands the rest of its batch back and exits cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from services.automations import Automations
from tests.conftest import PAYLOAD_KEYS, eventually
from tests.followups.conftest import SENDER, Inbox, campaign, seed_event, send_states
from tests.workers import start_worker
from workflows.contracts.followups import FollowupInput, FollowupReport
from workflows.followups import FollowupWorkflow

GUESTS = [(f"Guest {n}", f"guest{n}@example.com", "approved", True) for n in range(30)]
EVERYONE = {address for _, address, _, _ in GUESTS}
HOLD_AT = 12


@dataclass
class Campaign:
    job: FollowupInput
    report: FollowupReport
    first: subprocess.Popen[bytes]
    second: subprocess.Popen[bytes]
    log: Path
    sent_by_first: int  # messages received before the second worker started


@asynccontextmanager
async def interrupted_campaign(
    interrupt: Callable[[subprocess.Popen[bytes], Path], Awaitable[None]],
    *,
    temporal_env,
    sessions,
    keybox,
    encryption_keys,
    db_url,
    defaults,
    inbox: Inbox,
    tmp_path: Path,
) -> AsyncIterator[Campaign]:
    """Start a 30-guest campaign on a worker process, `interrupt` it while message 12 is
    held, then let a second worker finish; the workers are stopped on the way out."""
    seeded = await seed_event(sessions, keybox, GUESTS)
    defaults = replace(defaults, heartbeat_timeout_seconds=2, followup_batch_size=10)
    automations = Automations(temporal_env.client, defaults)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "ENCRYPTION_KEYS": encryption_keys[0],
        "TEMPORAL_PAYLOAD_KEYS": PAYLOAD_KEYS[0],  # the test client's codec key
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": defaults.task_queue,
        "MAIL_BACKEND": "smtp",
        "MAIL_FROM": SENDER,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(inbox.port),
        "SMTP_STARTTLS": "false",
        "PUBLIC_URL": "http://api.test",
        "LOG_LEVEL": "INFO",
    }
    env.pop("BOT_TOKEN", None)
    log = tmp_path / "workers.log"
    inbox.hold_at = HOLD_AT
    job = campaign(seeded, "attended")
    first = start_worker(env, log)
    second = None
    try:
        started = await automations.start_followup(job)
        if not await asyncio.to_thread(inbox.holding.wait, 60):
            raise AssertionError("the worker sent nothing:\n" + log.read_text())
        await interrupt(first, log)
        inbox.release.set()
        await asyncio.to_thread(first.wait, 30)
        sent_by_first = len(inbox.messages)
        second = start_worker(env, log)
        handle = automations.client.get_workflow_handle_for(
            FollowupWorkflow.run, started.workflow_id
        )
        report = await asyncio.wait_for(handle.result(), 90)
    finally:
        inbox.release.set()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                await asyncio.to_thread(process.wait, 15)
    yield Campaign(job, report, first, second, log, sent_by_first)


async def test_worker_killed_mid_send_sends_nobody_twice(fixtures, inbox: Inbox) -> None:
    async def kill(worker: subprocess.Popen[bytes], log: Path) -> None:
        worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.wait, 10)  # the held reply goes to a dead socket

    async with interrupted_campaign(kill, **fixtures) as done:
        counts = inbox.per_recipient()
        assert set(counts) == EVERYONE and set(counts.values()) == {1}, counts
        report = done.report.counts
        assert (report.sent, report.uncertain, report.pending) == (29, 1, 0)
        assert "Maybe sent" in done.report.text
        held = inbox.messages[HOLD_AT - 1]["X-Envelope-To"]
        job = done.job
        states = await send_states(fixtures["sessions"], job.org_id, job.campaign_id)
        uncertain = [email for email, state in states.items() if state == "uncertain"]
        assert uncertain == [held]
        assert done.second.returncode == 0, "unclean shutdown:\n" + done.log.read_text()


async def test_worker_stopped_mid_batch_hands_over_cleanly(fixtures, inbox: Inbox) -> None:
    async def stop(worker: subprocess.Popen[bytes], log: Path) -> None:
        worker.send_signal(signal.SIGTERM)
        await eventually(lambda: "shutting down" in log.read_text(), timeout=15)

    async with interrupted_campaign(stop, **fixtures) as done:
        counts = inbox.per_recipient()
        assert set(counts) == EVERYONE and set(counts.values()) == {1}, counts
        report = done.report.counts
        assert (report.sent, report.uncertain, report.pending) == (30, 0, 0)
        assert done.first.returncode == 0, "unclean shutdown:\n" + done.log.read_text()
        assert done.sent_by_first == HOLD_AT  # it stopped after the send it had begun
