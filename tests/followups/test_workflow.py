"""Follow-up campaigns through a real worker and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.worker import Replayer

from api.deps import ApiDeps
from api.main import create_app
from core.settings import Settings
from mailer import MailSetup, lists
from mailer.sendgrid import SendGridMailer
from mailer.smtp import SmtpMailer
from services.automations import Automations
from store.models import AuditEntry
from tests.conftest import DATA_CONVERTER, eventually
from tests.followups.conftest import (
    ATTENDED,
    NO_SHOWS,
    PUBLIC_URL,
    SENDER,
    Inbox,
    campaign,
    running_worker,
    seed_event,
    send_states,
)
from tests.ports import release_port, reserve_port
from worker import WORKFLOWS
from workflows.contracts.followups import FollowupReport
from workflows.followups import FollowupWorkflow


def handle_of(automations: Automations, workflow_id: str):
    return automations.client.get_workflow_handle_for(FollowupWorkflow.run, workflow_id)


async def run(automations: Automations, job) -> FollowupReport:
    started = await automations.start_followup(job)
    handle = handle_of(automations, started.workflow_id)
    return await asyncio.wait_for(handle.result(), 60)


async def test_attended_get_one_personal_email_each(automations, inbox: Inbox, seeded) -> None:
    job = campaign(seeded, "attended")
    report = await run(automations, job)

    assert inbox.per_recipient() == {address: 1 for address in ATTENDED}
    ada = inbox.to("ada@example.com")  # two registrations, one email (the first address)
    assert ada["Subject"] == "Thank you for coming to Demo Night"
    assert ada["From"] == "Demo Events <events@demo.test>"
    assert "Ada Lovelace" in ada["To"]
    text = ada.get_content().replace("\r\n", "\n")
    assert text.startswith("Hi Ada,\n\nThanks for joining Demo Night!")
    assert f"{PUBLIC_URL}/unsubscribe/" in text
    assert ada["List-Unsubscribe"].strip().startswith(f"<{PUBLIC_URL}/unsubscribe/")
    assert inbox.to("anon@example.com").get_content().startswith("Hi there,")
    assert ada["Message-ID"].endswith("@demo.test>")
    ids = {message["Message-ID"] for message in inbox.messages}
    assert len(ids) == len(ATTENDED)
    assert (report.counts.total, report.counts.sent, report.counts.pending) == (3, 3, 0)
    assert "Sent: 3 of 3." in report.text

    # A second press of the same Send: the same workflow id, nothing sent again.
    again = await automations.start_followup(job)
    assert again.already_running
    assert len(inbox.messages) == len(ATTENDED)


async def test_no_shows_and_all(automations, inbox: Inbox, seeded) -> None:
    await run(automations, campaign(seeded, "no-shows", subject="We missed you at {event}"))
    assert set(inbox.per_recipient()) == NO_SHOWS
    assert inbox.to("alan@example.com")["Subject"] == "We missed you at Demo Night"
    inbox.messages.clear()
    report = await run(automations, campaign(seeded, "all"))
    assert inbox.per_recipient() == {address: 1 for address in ATTENDED | NO_SHOWS}
    assert report.counts.sent == 5


async def test_unsubscribed_people_are_skipped(
    automations, inbox: Inbox, seeded, sessions, db_url, encryption_keys
) -> None:
    await run(automations, campaign(seeded, "attended"))
    link = inbox.to("grace@example.com")["List-Unsubscribe"].strip().strip("<>")

    settings = Settings(_env_file=None, database_url=db_url, encryption_keys=encryption_keys)
    app = create_app(settings, deps=ApiDeps(sessions, automations))
    transport = httpx.ASGITransport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client,
    ):
        # Opening the link (a mail scanner does too) only asks; the button unsubscribes.
        page = await client.get(link.removeprefix(PUBLIC_URL))
        assert page.status_code == 200 and "grace@example.com" in page.text
        assert '<form method="post">' in page.text
        async with sessions() as session:
            assert not await lists.unsubscribed(
                session, org_id=seeded.org_id, normalized_emails=["grace@example.com"]
            )
        done = await client.post(link.removeprefix(PUBLIC_URL))
        assert done.status_code == 200 and "Unsubscribed" in done.text
        assert (await client.post(link.removeprefix(PUBLIC_URL))).status_code == 200  # again
        token = link.rsplit("/", 1)[1]
        forged = await client.get(f"/unsubscribe/{token[:-3]}abc")
        assert forged.status_code == 400 and "not valid" in forged.text
        assert (await client.get("/unsubscribe/garbage")).status_code == 400
    async with sessions.begin() as session:  # the organizer's /unsubscribe, by hand
        assert await lists.unsubscribe(
            session, org_id=seeded.org_id, email="ANON@example.com", source="bot"
        )

    inbox.messages.clear()
    report = await run(automations, campaign(seeded, "attended"))
    assert set(inbox.per_recipient()) == {"ada@example.com"}
    assert (report.counts.sent, report.counts.skipped) == (1, 2)
    assert "Unsubscribed, not sent: 2." in report.text


async def test_unsubscribe_is_per_org(automations, inbox: Inbox, sessions, keybox) -> None:
    first = await seed_event(sessions, keybox)
    second = await seed_event(sessions, keybox)
    async with sessions.begin() as session:
        await lists.unsubscribe(session, org_id=first.org_id, email="ada@example.com", source="bot")
    await run(automations, campaign(second, "attended"))
    assert inbox.per_recipient()["ada@example.com"] == 1


@pytest.mark.parametrize("refusal", ["refuse", "full"])
async def test_refused_recipient_is_reported_and_the_rest_sent(
    automations, inbox: Inbox, seeded, sessions, refusal: str
) -> None:
    """A refused recipient, even one refused only for now (452 mailbox full), is reported
    and never holds up the others."""
    getattr(inbox, refusal).add("grace@example.com")
    job = campaign(seeded, "attended")
    report = await run(automations, job)
    assert set(inbox.per_recipient()) == {"ada@example.com", "anon@example.com"}
    assert (report.counts.sent, report.counts.failed) == (2, 1)
    code = {"refuse": 550, "full": 452}[refusal]
    assert f"grace@example.com: recipient refused: {code}" in report.text
    states = await send_states(sessions, seeded.org_id, job.campaign_id)
    assert states == {
        "ada@example.com": "sent",
        "grace@example.com": "failed",
        "anon@example.com": "sent",
    }


async def test_smtp_down_is_retried_until_it_is_back(
    automations, smtp_setup: MailSetup, inbox: Inbox, seeded
) -> None:
    """Connection refused means nothing was sent: the batch is retried, nobody gets two."""
    mailer = smtp_setup.mailer
    assert isinstance(mailer, SmtpMailer)
    nobody = reserve_port()  # held, so nobody listens there
    mailer.port = nobody
    started = await automations.start_followup(campaign(seeded, "attended"))
    handle = handle_of(automations, started.workflow_id)

    async def retrying() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return bool(pending) and pending[0].attempt >= 2

    await eventually(retrying, timeout=20)
    assert inbox.messages == []
    mailer.port = inbox.port
    release_port(nobody)
    report = await asyncio.wait_for(handle.result(), 60)
    assert inbox.per_recipient() == {address: 1 for address in ATTENDED}
    assert report.counts.sent == 3


async def test_mail_off_on_the_worker_fails_plainly(
    temporal_env, sessions, keybox, luma_pool, defaults, seeded
) -> None:
    worker = await running_worker(temporal_env, sessions, keybox, luma_pool, defaults, None)
    async with worker:
        automations = Automations(temporal_env.client, defaults)
        job = campaign(seeded, "attended", chat_id=-(10**13) - seeded.org_id)
        started = await automations.start_followup(job)
        handle = handle_of(automations, started.workflow_id)
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 30)
    assert "MAIL_BACKEND" in str(failure.value.cause)
    async with sessions() as session:  # the chat was told (no bot here, so only recorded)
        told = await session.scalar(
            select(AuditEntry.chat_id).where(
                AuditEntry.idempotency_key == f"followup-failed:{started.workflow_id}"
            )
        )
    assert told == job.chat_id


async def test_progress_query(automations, inbox: Inbox, seeded) -> None:
    inbox.hold_at = 1
    started = await automations.start_followup(campaign(seeded, "attended"))
    await asyncio.to_thread(inbox.holding.wait, 20)
    progress = await automations.followup_progress(started.workflow_id)
    assert progress.phase == "sending" and progress.counts.total == 3
    inbox.release.set()
    handle = handle_of(automations, started.workflow_id)
    await asyncio.wait_for(handle.result(), 30)
    done = await automations.followup_progress(started.workflow_id)
    assert done.phase == "finished" and done.counts.sent == 3


async def test_sendgrid_backend_end_to_end(
    temporal_env, sessions, keybox, luma_pool, defaults, signer, sendgrid, seeded
) -> None:
    """The same campaign through SendGrid's API: a 429 is retried, a 400 is reported."""
    fake, url = sendgrid
    fake.script = {"grace@example.com": [429], "anon@example.com": [400]}
    setup = MailSetup(SendGridMailer(fake.api_key, sender=SENDER, base_url=url), signer, PUBLIC_URL)
    worker = await running_worker(temporal_env, sessions, keybox, luma_pool, defaults, setup)
    try:
        async with worker:
            report = await run(
                Automations(temporal_env.client, defaults), campaign(seeded, "attended")
            )
    finally:
        await setup.aclose()
    accepted = Counter(body["personalizations"][0]["to"][0]["email"] for body in fake.accepted)
    assert accepted == {"ada@example.com": 1, "grace@example.com": 1}
    ada = next(b for b in fake.accepted if b["personalizations"][0]["to"][0]["name"])
    assert ada["subject"] == "Thank you for coming to Demo Night"
    assert ada["content"][0]["value"].startswith("Hi Ada,")
    assert ada["headers"]["List-Unsubscribe"].startswith(f"<{PUBLIC_URL}/unsubscribe/")
    assert (report.counts.sent, report.counts.failed) == (2, 1)
    assert "anon@example.com: SendGrid answered 400" in report.text


async def payload_text(history: WorkflowHistory) -> str:
    """Every workflow input, activity input and activity result in the history, decrypted."""
    codec = DATA_CONVERTER.payload_codec
    assert codec is not None
    parts = []
    for event in history.events:
        for payloads in (
            event.workflow_execution_started_event_attributes.input,
            event.activity_task_scheduled_event_attributes.input,
            event.activity_task_completed_event_attributes.result,
        ):
            parts += [payload.data.decode() for payload in await codec.decode(payloads.payloads)]
    return " ".join(parts)


async def test_histories_replay_and_hold_only_the_draft(automations, inbox: Inbox, seeded) -> None:
    """Deterministic: recorded histories replay; inputs carry the draft, never a mail secret."""
    job = campaign(seeded, "all")
    inbox.refuse.add("grace@example.com")
    await run(automations, job)
    started = await automations.start_followup(job)
    history = await handle_of(automations, started.workflow_id).fetch_history()
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(history)
    payloads = await payload_text(history)
    assert "Thanks for joining {event}!" in payloads  # the template; the activity fills it in
    assert "Hi Ada," not in payloads and "/unsubscribe/" not in payloads
    assert "grace@example.com: recipient refused" in payloads  # the report's few lines


async def test_long_campaigns_continue_as_new(automations, inbox: Inbox, sessions, keybox) -> None:
    guests = [(f"Guest {n}", f"guest{n}@example.com", "approved", True) for n in range(7)]
    seeded = await seed_event(sessions, keybox, guests)
    job = campaign(seeded, "attended", batches_per_run=2)  # batches of two recipients
    started = await automations.start_followup(job)
    handle = handle_of(automations, started.workflow_id)
    report = await asyncio.wait_for(handle.result(), 60)
    assert inbox.per_recipient() == {address: 1 for _, address, _, _ in guests}
    assert report.counts.sent == 7 and "Sent: 7 of 7." in report.text

    async def continued_as_new() -> bool:
        query = f"WorkflowId = '{started.workflow_id}'"
        return len([run async for run in automations.client.list_workflows(query)]) >= 2

    await eventually(continued_as_new, timeout=10)
