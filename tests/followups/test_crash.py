"""Kill the worker in the middle of a follow-up: a new worker finishes it, nobody gets two.

The kill is placed at the worst moment on purpose: the SMTP server has accepted message 12
but withholds its reply, so the dying worker never learns it was delivered. The new worker
must neither resend it (at most once) nor lose any of the others.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace

from sqlalchemy import select

from store.models import FollowupSend
from tests.followups.conftest import SENDER, Inbox, campaign, seed_event
from tests.workflows.test_crash import start_worker
from workflows.followups import FollowupWorkflow
from workflows.starter import Automations

GUESTS = [(f"Guest {n}", f"guest{n}@example.com", "approved", True) for n in range(30)]
HOLD_AT = 12


async def test_worker_killed_mid_campaign_sends_nobody_twice(
    temporal_env, sessions, keybox, encryption_keys, db_url, defaults, inbox: Inbox, tmp_path
) -> None:
    seeded = await seed_event(sessions, keybox, GUESTS)
    defaults = replace(defaults, heartbeat_timeout_seconds=2, followup_batch_size=10)
    automations = Automations(temporal_env.client, defaults)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "ENCRYPTION_KEYS": encryption_keys[0],
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": defaults.task_queue,
        "MAIL_BACKEND": "smtp",
        "MAIL_FROM": SENDER,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(inbox.port),
        "SMTP_STARTTLS": "false",
        "PUBLIC_URL": "http://api.test",
        "LOG_LEVEL": "WARNING",
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
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        inbox.release.set()  # the reply goes to a dead socket
        assert len(inbox.messages) == HOLD_AT

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

    counts = inbox.per_recipient()
    assert set(counts) == {address for _, address, _, _ in GUESTS}
    assert set(counts.values()) == {1}, counts
    assert (report.counts.sent, report.counts.uncertain, report.counts.pending) == (29, 1, 0)
    assert "Maybe sent" in report.text
    async with sessions() as session:
        uncertain = await session.scalars(
            select(FollowupSend.email).where(
                FollowupSend.campaign_id == job.campaign_id, FollowupSend.state == "uncertain"
            )
        )
        assert list(uncertain) == [inbox.messages[HOLD_AT - 1]["X-Envelope-To"]]
    assert second is not None
    assert second.returncode == 0, "unclean shutdown on SIGTERM:\n" + log.read_text()
