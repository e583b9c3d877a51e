"""Follow-ups from an org's own Gmail, against the Google stand-in (standins.gmail): the
sender on its own, and whole campaigns on a real worker (once each, even when a batch is
retried; the daily limit stops the campaign and the same campaign finishes after it)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.client import WorkflowFailureError

from core.settings import MailBackend
from mailer import (
    MailConfigError,
    MailDailyLimit,
    MailRejected,
    MailSetup,
    MailUnavailable,
    OutgoingMail,
    message_id,
)
from mailer.gmail import GmailMailer, GmailSenders, GoogleClient, classify
from services import followups
from services.automations import Automations
from services.caller import Caller, Conflict
from standins.gmail import GoogleStandin, running_google_standin
from store import gmail_senders
from store.models import Role, utcnow
from tests.followups.conftest import (
    ATTENDED,
    PUBLIC_URL,
    Seeded,
    campaign,
    running_worker,
)
from tests.followups.test_workflow import handle_of, payload_text
from workflows.contracts.followups import FollowupReport

ACCOUNT = "organizer@gmail.com"


def google_client(standin: GoogleStandin, url: str) -> GoogleClient:
    """Our OAuth client, with every Google endpoint pointing at the stand-in."""
    return GoogleClient(
        client_id=standin.client_id,
        client_secret=standin.client_secret,
        oauth_url=f"{url}/o/oauth2/v2/auth",
        token_url=f"{url}/token",
        revoke_url=f"{url}/revoke",
        api_url=url,
        limit_wait=timedelta(hours=24),
    )


@pytest.fixture
async def google() -> AsyncIterator[tuple[GoogleStandin, str]]:
    standin = GoogleStandin(account=ACCOUNT)
    async with running_google_standin(standin) as url:
        yield standin, url


def mail(to: str = "ada@example.com") -> OutgoingMail:
    return OutgoingMail(
        to=to,
        subject="Thank you",
        text="Hi Ada",
        message_id=message_id(f"1/evt/c/{to}", ACCOUNT),
        to_name="Ada Lovelace",
        headers={
            "List-Unsubscribe": f"<{PUBLIC_URL}/unsubscribe/t>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


async def test_sender_refreshes_tokens_and_maps_gmail_answers(google) -> None:
    standin, url = google
    standin.access_uses = 1  # every access token is spent by one send
    client = google_client(standin, url)
    grant = standin.grant_for(ACCOUNT)
    async with httpx.AsyncClient() as http:
        mailer = GmailMailer(http, client, ACCOUNT, grant.refresh_token)
        await mailer.send(mail())
        await mailer.send(mail("grace@example.com"))  # 401 first: refreshed, then sent
        standin.expire_access_tokens()
        await mailer.send(mail("anon@example.com"))
        assert standin.token_requests["refresh_token"] == 3
        assert [sent.to for sent in standin.messages] == [
            "ada@example.com",
            "grace@example.com",
            "anon@example.com",
        ]
        ada = standin.messages[0].message
        assert ada["From"] == ACCOUNT and "Ada Lovelace" in ada["To"]
        assert ada["Message-ID"] == mail().message_id and ada["Message-ID"].endswith("@gmail.com>")
        assert ada["List-Unsubscribe"] == f"<{PUBLIC_URL}/unsubscribe/t>"
        assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert ada.get_content().startswith("Hi Ada")

        standin.script["bad@example.com"] = [400, 503]
        with pytest.raises(MailRejected):
            await mailer.send(mail("bad@example.com"))
        with pytest.raises(MailUnavailable):
            await mailer.send(mail("bad@example.com"))

        standin.daily_quota = 3  # spent by the three above
        with pytest.raises(MailDailyLimit) as stop:
            await mailer.send(mail("late@example.com"))
        assert stop.value.sender == "Gmail"
        assert utcnow() < stop.value.resume_at <= utcnow() + timedelta(days=1)

        grant.revoked = True  # the person removed the app's access in their Google account
        standin.expire_access_tokens()
        with pytest.raises(MailConfigError, match="reconnect"):
            await mailer.send(mail("late@example.com"))
    assert len(standin.messages) == 3


def test_daily_limit_without_a_retry_time_waits_the_configured_time() -> None:
    """dailyLimitExceeded names no time: the configured wait applies; a short rate limit is
    retried, not a stop for the day."""
    reason = {"reason": "dailyLimitExceeded", "message": "Daily Limit Exceeded"}
    body = {"error": {"code": 403, "message": "Daily Limit Exceeded", "errors": [reason]}}
    before = utcnow()
    with pytest.raises(MailDailyLimit) as stop:
        classify(httpx.Response(403, json=body), timedelta(hours=5))
    assert before + timedelta(hours=5) <= stop.value.resume_at <= utcnow() + timedelta(hours=5)
    reason["reason"] = "userRateLimitExceeded"
    with pytest.raises(MailUnavailable):
        classify(httpx.Response(403, json=body), timedelta(hours=5))


async def connect(sessions, keybox, standin: GoogleStandin, org_id: int) -> None:
    """The org's Gmail as the portal's callback leaves it (tests/web/test_gmail.py)."""
    grant = standin.grant_for(ACCOUNT)
    async with sessions.begin() as session:
        await gmail_senders.save(
            session, org_id=org_id, address=ACCOUNT, token=grant.refresh_token, keybox=keybox, by=1
        )


@pytest.fixture
async def gmail_automations(
    temporal_env, sessions, keybox, luma_pool, defaults, signer, google
) -> AsyncIterator[Automations]:
    """A worker with MAIL_BACKEND off: only a connected Gmail can send."""
    standin, url = google
    setup = MailSetup(None, signer, PUBLIC_URL, GmailSenders(google_client(standin, url), keybox))
    worker = await running_worker(temporal_env, sessions, keybox, luma_pool, defaults, setup)
    try:
        async with worker:
            yield Automations(temporal_env.client, defaults)
    finally:
        await setup.aclose()


async def run(automations: Automations, job) -> tuple[FollowupReport, str]:
    started = await automations.start_followup(job)
    handle = handle_of(automations, started.workflow_id)
    return await asyncio.wait_for(handle.result(), 60), started.workflow_id


async def test_campaign_through_gmail_once_each_when_a_batch_is_retried(
    gmail_automations, google, seeded: Seeded, sessions, keybox
) -> None:
    standin, _ = google
    await connect(sessions, keybox, standin, seeded.org_id)
    # Grace's send fails once (nothing taken): the batch fails and Temporal retries it.
    standin.script["grace@example.com"] = [503]
    report, workflow_id = await run(gmail_automations, campaign(seeded, "attended"))

    assert Counter(sent.to for sent in standin.messages) == {address: 1 for address in ATTENDED}
    assert standin.script["grace@example.com"] == []  # the failure did happen
    assert {sent.account for sent in standin.messages} == {ACCOUNT}
    ada = standin.to("ada@example.com")[0].message
    assert ada["From"] == ACCOUNT and ada["Subject"] == "Thank you for coming to Demo Night"
    assert ada["List-Unsubscribe"].strip().startswith(f"<{PUBLIC_URL}/unsubscribe/")
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"{PUBLIC_URL}/unsubscribe/" in ada.get_content()
    assert ada["Message-ID"].endswith("@gmail.com>")
    assert (report.counts.sent, report.counts.total) == (3, 3)
    history = await handle_of(gmail_automations, workflow_id).fetch_history()
    attempts = [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) >= 2  # a batch really was retried
    # The refresh token never enters the workflow's history.
    grant_tokens = list(standin.grants)
    payloads = await payload_text(history)
    assert not any(token in payloads for token in grant_tokens)


async def test_daily_limit_stops_then_the_same_campaign_finishes(
    gmail_automations, google, seeded: Seeded, sessions, keybox
) -> None:
    standin, _ = google
    await connect(sessions, keybox, standin, seeded.org_id)
    # Two a "day", and a short day: the third recipient waits for the next one.
    standin.daily_quota, standin.day_seconds = 2, 1.5
    job = campaign(seeded, "attended", chat_id=-(10**13) - seeded.org_id)
    report, workflow_id = await run(gmail_automations, job)

    assert Counter(sent.to for sent in standin.messages) == {address: 1 for address in ATTENDED}
    assert (report.counts.sent, report.counts.pending) == (3, 0)
    assert "Sent: 3 of 3." in report.text
    history = await handle_of(gmail_automations, workflow_id).fetch_history()
    payloads = await payload_text(history)
    assert "sent 2 of 3; Gmail's daily limit reached; resuming today at " in payloads
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert timers  # the wait was a durable timer in the workflow


async def test_mail_off_and_no_gmail_connected_fails_plainly(
    gmail_automations, seeded: Seeded
) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await run(gmail_automations, campaign(seeded, "attended"))
    assert "connect the calendar's Gmail" in str(failure.value.cause)


async def test_with_mail_backend_off_a_calendar_with_gmail_can_send(
    gmail_automations, google, seeded: Seeded, sessions, keybox
) -> None:
    """`services.followups.start` refuses without MAIL_BACKEND, unless the calendar's own
    Gmail is connected: then it starts, and Gmail sends."""
    standin, _ = google
    admin = Caller(seeded.org_id, Role.ADMIN, "web", user_id=1)

    async def start(campaign_id: str) -> str:
        async with sessions.begin() as session:
            started = await followups.start(
                admin,
                session,
                gmail_automations,
                mail=MailBackend.OFF,
                campaign_id=campaign_id,
                event_id=seeded.event_id,
                event_name=seeded.event_name,
                audience="attended",
                subject="Thanks",
                body="Hi",
            )
        return started.workflow_id

    with pytest.raises(Conflict, match="MAIL_BACKEND"):
        await start("before")
    await connect(sessions, keybox, standin, seeded.org_id)
    workflow_id = await start("after")
    report = await asyncio.wait_for(handle_of(gmail_automations, workflow_id).result(), 60)
    assert report.counts.sent == 3 and len(standin.messages) == 3
