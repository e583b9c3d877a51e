"""The follow-up activities on their own, on SQLite (the embedded default) as on PostgreSQL:
replays send nothing twice, and a row a dead attempt left `sending` is never sent again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.followups import FollowupActivities
from mailer import MailRejected, MailSetup, OutgoingMail, lists
from migrations import runner
from store.db import create_engine, session_factory
from store.models import FollowupSend
from tests.conftest import in_thread
from tests.followups.conftest import Inbox, seed_event, send_states
from workflows.contracts.followups import CampaignRef, FollowupBatch, ResolveFollowup


@pytest.fixture(params=["sqlite", "postgres"])
async def any_sessions(
    request, tmp_path: Path, sessions
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "postgres":
        yield sessions
        return
    url = f"sqlite+aiosqlite:///{tmp_path / 'lumabot.db'}"
    await in_thread(runner.upgrade, url)
    engine = create_engine(url)
    yield session_factory(engine)
    await engine.dispose()


async def test_batches_replayed_send_once(
    any_sessions, keybox, inbox: Inbox, smtp_setup: MailSetup
) -> None:
    seeded = await seed_event(any_sessions, keybox)
    campaign = CampaignRef(seeded.org_id, seeded.event_id, "c1")
    activities = FollowupActivities(any_sessions, smtp_setup)
    env = ActivityEnvironment()
    counts = await env.run(
        activities.resolve_followup_recipients, ResolveFollowup(campaign, "attended")
    )
    again = await env.run(
        activities.resolve_followup_recipients, ResolveFollowup(campaign, "attended")
    )
    assert (counts.total, counts.pending) == (again.total, again.pending) == (3, 3)

    async with any_sessions.begin() as session:
        assert await lists.unsubscribe(
            session, org_id=seeded.org_id, email="grace@example.com", source="bot"
        )
        assert not await lists.unsubscribe(
            session, org_id=seeded.org_id, email="Grace+x@Example.com", source="link"
        )
        # As if an earlier attempt died after claiming Ada's row: never sent again.
        await session.execute(
            update(FollowupSend)
            .where(FollowupSend.org_id == seeded.org_id, FollowupSend.email == "ada@example.com")
            .values(state="sending")
        )
    batch = FollowupBatch(campaign, "Hi {first_name}", "Thanks for {event}", "Demo Night", 10)
    first = await env.run(activities.send_followup_batch, batch)
    replay = await env.run(activities.send_followup_batch, batch)
    assert first == replay
    assert (first.sent, first.skipped, first.uncertain, first.pending) == (1, 1, 1, 0)
    assert inbox.per_recipient() == {"anon@example.com": 1}
    states = await send_states(any_sessions, seeded.org_id, "c1")
    assert states["ada@example.com"] == "uncertain"
    assert states["grace@example.com"] == "skipped"


async def test_line_breaks_never_reach_a_header(
    sessions, keybox, inbox: Inbox, smtp_setup: MailSetup
) -> None:
    guests = [("Eve\r\nBcc: spy@example.com", "eve@example.com", "approved", True)]
    seeded = await seed_event(sessions, keybox, guests, name="Demo\nNight")
    campaign = CampaignRef(seeded.org_id, seeded.event_id, "c1")
    activities = FollowupActivities(sessions, smtp_setup)
    env = ActivityEnvironment()
    await env.run(activities.resolve_followup_recipients, ResolveFollowup(campaign, "all"))
    batch = FollowupBatch(campaign, "About {event}", "Hi {first_name}", "Demo\nNight", 10)
    counts = await env.run(activities.send_followup_batch, batch)
    assert counts.sent == 1
    message = inbox.to("eve@example.com")
    assert message["Subject"] == "About Demo Night"
    assert message["Bcc"] is None and "spy@example.com" not in message["X-Envelope-To"]
    # The mailer itself refuses a broken header before connecting: nothing was sent.
    assert smtp_setup.mailer is not None
    with pytest.raises(MailRejected):
        await smtp_setup.mailer.send(
            OutgoingMail("eve@example.com", "Two\nlines", "text", "<id@demo.test>")
        )
    assert len(inbox.messages) == 1
