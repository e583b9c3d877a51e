"""Record a history of every workflow kind from the current code, for the replay test.

    .venv/bin/python -m tests.workflows.histories.record            # every kind
    .venv/bin/python -m tests.workflows.histories.record FollowupWorkflow

Each kind runs to completion the way the product runs it (started through
`services.automations`, on a worker built by `worker.build_worker` with the real activities)
against what the workflow tests use: a migrated PostgreSQL database of its own (TEST_PG_* as
in tests/conftest.py), the Temporal dev server, the time-skipping test server for the
post-event summary's durable timers and the approval policy's idle timeout, and the local
stand-ins of Luma, Telegram, the enrichment provider and an SMTP server.

Payloads are encrypted on the servers as in production (`core.payload_codec`, with a key made
for the recording) and decrypted before a history is written, so the stored files are plain
JSON that replays under any key.

Every run of a kind (continue-as-new makes several) is written to
`tests/workflows/histories/<WorkflowType>/<date>-<scenario>[-run<n>].json`. Files already there
are kept: old histories stay alongside new ones, so workflows started by older code (a summary
sleeps for days) stay covered by `tests/workflows/test_replay.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.enrichment import EnrichmentConfig
from activities.luma_access import LumaAccess
from bot.factory import create_bot
from catalog.guest_filter import GuestFilter
from catalog.invite_list import parse_text
from core.binaries import temporal_cli, temporal_test_server
from core.payload_codec import data_converter
from core.settings import Settings
from crm.base import ConnectorConfig
from crm.connectors import CrmConfig
from intel.approval_policy import Action, Rule
from intel.enrichment import store as enrichment_store
from luma import BudgetPolicy, LumaPool
from mailer import MailSetup
from mailer.gmail import GmailSenders
from mailer.smtp import SmtpMailer
from mailer.unsubscribe import UnsubscribeSigner
from migrations import runner
from services import crm, invites, policies
from services.automations import Automations, JobDefaults
from services.caller import Caller
from standins.airtable import FakeAirtable, running_fake_airtable
from standins.enrichment import FakeProvider, Known, running_fake_provider
from standins.gmail import GoogleStandin, running_google_standin
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from standins.telegram import running_local_api
from store import orgs
from store.crypto import KeyBox
from store.db import create_engine, session_factory
from store.models import AutomationSettings, Event, Guest, PolicyDecision, Role
from store.rate_budget import DatabaseRateBudget
from tests.conftest import create_database, drop_database, pg_url_for
from tests.followups.conftest import SENDER, Inbox, SocketController, campaign, seed_event
from tests.followups.test_gmail import connect as connect_gmail
from tests.followups.test_gmail import google_client
from tests.ports import reserved_ports
from tests.workflows.conftest import link_calendar
from tests.workflows.payloads import decrypted
from worker import WorkerClients, build_worker
from workflows import ids
from workflows.contracts.guest_status import GuestStatusChange
from workflows.contracts.summary import SummaryInput
from workflows.ids import SEARCH_ATTRIBUTES
from workflows.summary import PostEventSummaryWorkflow

HERE = Path(__file__).resolve().parent
SEED = 20_261_203  # the simulator's data: the same every recording
CHAT_ID = -1_001_000_000_001

log = logging.getLogger("record")


@dataclass
class Pieces:
    """Everything one recording session shares."""

    automations: Automations
    sessions: async_sessionmaker[AsyncSession]
    keybox: KeyBox
    clients: WorkerClients
    time_skipping: WorkflowEnvironment
    org_id: int
    calendar_id: str
    simulator: RunningSimulator
    fake_provider: FakeProvider
    replace: bool
    google: GoogleStandin  # Gmail's stand-in: two sends a "day", a day of 1.5 s
    airtable: FakeAirtable | None = None  # the CRM sync's stand-in


async def runs_of(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, first to last, following continue-as-new, decrypted."""
    latest = await client.get_workflow_handle(workflow_id).fetch_history()
    run_id = latest.events[0].workflow_execution_started_event_attributes.first_execution_run_id
    histories: list[WorkflowHistory] = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        codec = client.data_converter.payload_codec
        assert codec is not None
        histories.append(await decrypted(history, codec))
        last = history.events[-1]
        run_id = ""
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


def save(histories: list[WorkflowHistory], scenario: str, *, replace: bool) -> list[Path]:
    written = []
    for number, history in enumerate(histories, start=1):
        started = history.events[0].workflow_execution_started_event_attributes
        kind = started.workflow_type.name
        suffix = f"-run{number}" if len(histories) > 1 else ""
        path = HERE / kind / f"{date.today().isoformat()}-{scenario}{suffix}.json"
        if path.exists() and not replace:
            raise SystemExit(f"{path} exists; pass --replace to record it again today")
        path.parent.mkdir(exist_ok=True)
        path.write_text(history.to_json() + "\n")
        written.append(path)
    return written


async def link_chat(pieces: Pieces, org_id: int, chat_id: int) -> None:
    async with pieces.sessions.begin() as session:
        await orgs.link_chat(
            session, chat_id=chat_id, org_id=org_id, kind="group", title="Team", linked_by=1
        )
        session.add(
            AutomationSettings(
                chat_id=chat_id,
                org_id=org_id,
                digest_enabled=True,
                post_event_summary=True,
                summary_delay_minutes=20,
            )
        )


# One scenario per workflow kind; each returns the id of the workflow it ran to the end.
# Where a kind has branches worth covering (updates, continue-as-new, child workflows,
# timers), the scenario takes them.


async def sync_org(pieces: Pieces) -> list[str]:
    """A full sync that also starts an ended event's summary as a child workflow."""
    ended = pieces.simulator.state.add_event(
        pieces.calendar_id,
        name="Past Mixer",
        start_at=datetime.now(UTC) - timedelta(hours=4),
        guests=12,
    )
    handle = await pieces.automations.sync_now(pieces.org_id)
    await handle.result()
    # The child it started: the event ended long enough ago, so it reports at once.
    summary = pieces.automations.handle(ids.summary_id(pieces.org_id, ended))
    await summary.result()
    return [handle.id, summary.id]


async def refresh_guest(pieces: Pieces) -> list[str]:
    sim = pieces.simulator
    event_id = sim.state.add_event(pieces.calendar_id, name="Refresh Night", guests=3)
    guest_id = next(iter(sim.state.event(event_id).guests))
    handle = await pieces.automations.refresh_guest(pieces.org_id, event_id, guest_id=guest_id)
    await handle.result()
    return [handle.id]


async def bulk_status(pieces: Pieces) -> list[str]:
    """Approve 200 pending guests in time-bounded batches, paused, resumed, then cancelled
    part way (updates; the report of a job stopped early)."""
    sim = pieces.simulator
    event_id = sim.state.add_event(
        pieces.calendar_id, name="Founders Dinner", guests=200, status_mix={"pending_approval": 1.0}
    )
    # Slow enough that an apply activity ends on its time bound, not on the batch size.
    sim.state.configure(latency_seconds=0.2)
    automations = pieces.automations
    started = await automations.start_bulk(
        org_id=pieces.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(statuses=["pending_approval"]),
        requested_by=1,
        chat_id=CHAT_ID,
        event_name="Founders Dinner",
    )
    wid = started.workflow_id

    async def done_reaches(count: int) -> None:
        async with asyncio.timeout(60):
            while (await automations.bulk_progress(wid)).done < count:
                await asyncio.sleep(0.02)

    await done_reaches(1)
    await automations.control_bulk(wid, "pause", requested_by=1)
    await asyncio.sleep(2)
    await automations.control_bulk(wid, "resume", requested_by=1)
    await done_reaches(100)
    await automations.control_bulk(wid, "cancel", requested_by=1)
    await automations.bulk_handle(wid).result()
    sim.state.configure(latency_seconds=0)
    return [wid]


async def set_guest_status(pieces: Pieces) -> list[str]:
    sim = pieces.simulator
    event_id = sim.state.add_event(
        pieces.calendar_id, name="Small Meetup", guests=2, status_mix={"pending_approval": 1.0}
    )
    guest = next(iter(sim.state.event(event_id).guests.values()))
    change = GuestStatusChange(
        pieces.org_id, event_id, guest.person.email, "approved", requested_by=1, chat_id=CHAT_ID
    )
    await pieces.automations.set_guest_status(change)
    return [ids.guest_status_id(pieces.org_id, event_id, guest.person.email, "approved")]


async def daily_digest(pieces: Pieces) -> list[str]:
    handle = await pieces.automations.send_digest_now(chat_id=CHAT_ID, org_id=pieces.org_id)
    await handle.result()
    # And one that is not posted: the chat is not linked to the org (written here, under a
    # scenario name of its own).
    unposted = await pieces.automations.send_digest_now(chat_id=CHAT_ID - 2, org_id=pieces.org_id)
    await unposted.result()
    for path in save(
        await runs_of(pieces.automations.client, unposted.id), "not-posted", replace=pieces.replace
    ):
        log.info("wrote %s", path.relative_to(HERE))
    return [handle.id]


async def enrich_org(pieces: Pieces) -> list[str]:
    fake = pieces.fake_provider
    async with pieces.sessions() as session:
        people = await session.scalars(
            select(func.min(Guest.email))
            .where(Guest.org_id == pieces.org_id, Guest.gone_at.is_(None))
            .group_by(Guest.normalized_email)
        )
    for index, email in enumerate(sorted(people.all())[::2]):  # half of them are known
        fake.people[email.lower()] = Known(f"Company {index}", f"Title {index}", "director")
    async with pieces.sessions.begin() as session:
        await enrichment_store.save_provider(
            session,
            org_id=pieces.org_id,
            provider="pdl",
            api_key=fake.api_key,
            keybox=pieces.keybox,
            user_id=None,
        )
    handle = await pieces.automations.start_enrichment(pieces.org_id, chat_id=CHAT_ID)
    await handle.result()
    return [handle.id]


async def followup(pieces: Pieces) -> list[str]:
    """Three attendees, one per batch and one batch per run: a continue-as-new chain."""
    seeded = await seed_event(pieces.sessions, pieces.keybox)
    await link_chat(pieces, seeded.org_id, CHAT_ID - 1)
    job = campaign(seeded, "attended", chat_id=CHAT_ID - 1, requested_by=1, batches_per_run=1)
    started = await pieces.automations.start_followup(job)
    await pieces.automations.handle(started.workflow_id).result()
    return [started.workflow_id]


async def followup_daily_limit(pieces: Pieces) -> list[str]:
    """Three attendees through the org's Gmail, two a day: the campaign stops at the daily
    limit, reports, waits on a timer and finishes."""
    seeded = await seed_event(pieces.sessions, pieces.keybox)
    await link_chat(pieces, seeded.org_id, CHAT_ID - 2)
    await connect_gmail(pieces.sessions, pieces.keybox, pieces.google, seeded.org_id)
    job = campaign(seeded, "attended", chat_id=CHAT_ID - 2, requested_by=1)
    started = await pieces.automations.start_followup(job)
    await pieces.automations.handle(started.workflow_id).result()
    return [started.workflow_id]


async def post_event_summary(pieces: Pieces) -> list[str]:
    """Under time skipping: an event ending in about a day and a half, so the workflow sleeps
    a full RECHECK day, re-reads the event, then sleeps the rest (two durable timers)."""
    sim = pieces.simulator
    now = datetime.now(UTC)
    event_id = sim.state.add_event(
        pieces.calendar_id,
        name="Lisbon Founders Workshop",
        city="Lisbon",
        start_at=now + timedelta(hours=30),
        duration_hours=3,
        guests=40,
        status_mix={"approved": 0.7, "declined": 0.1, "waitlist": 0.2},
    )
    client = pieces.time_skipping.client
    queue = f"record-{uuid.uuid4().hex}"
    async with build_worker(client, queue, pieces.clients):
        handle = await client.start_workflow(
            PostEventSummaryWorkflow.run,
            SummaryInput(pieces.org_id, event_id, delay_minutes=120),
            id=ids.summary_id(pieces.org_id, event_id),
            task_queue=queue,
        )
        await handle.result()
        histories = await runs_of(client, handle.id)
    # Written here: this one lives on the time-skipping server, not the dev server.
    for path in save(histories, "timers", replace=pieces.replace):
        log.info("wrote %s", path.relative_to(HERE))
    return []


async def approval_policy(pieces: Pieces) -> list[str]:
    """Under time skipping (the workflow ends only after IDLE quiet minutes): an event whose
    policy is in auto mode gets three registrations in one burst, one batch: one approved by
    rule 1, one wait-listed by rule 2, one held (no rule matched); the two are written to
    Luma and the batch is reported to the linked chat."""
    sim = pieces.simulator
    event_id = sim.state.add_event(pieces.calendar_id, name="Policy Breakfast", guests=0)
    caller = Caller(pieces.org_id, Role.ADMIN, "api", 1)
    rules = [
        Rule(action=Action.APPROVE, domains=["approved.example.com"]),
        Rule(action=Action.WAITLIST, domains=["waitlisted.example.com"]),
    ]
    async with pieces.sessions.begin() as session:
        await policies.set_rules(caller, session, event_id=event_id, rules=rules)
        await policies.set_mode(caller, session, event_id=event_id, mode="auto")
    emails = ["ada@approved.example.com", "bo@waitlisted.example.com", "cy@held.example.com"]
    event = sim.state.event(event_id)
    sim.state.add_guests(
        sim.state.calendar(pieces.calendar_id),
        event,
        [(email, None) for email in emails],
        status="pending_approval",
        path="record",
    )
    guest_ids = [event.by_email[email].id for email in emails]

    client = pieces.time_skipping.client
    queue = f"record-{uuid.uuid4().hex}"
    # Started as the product starts it, search attributes and all: made here as on a cluster
    # (the test server lists none, so `register_search_attributes` cannot be used).
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in SEARCH_ATTRIBUTES
            },
        )
    )
    defaults = dataclasses.replace(pieces.automations.defaults, task_queue=queue)
    automations = Automations(client, defaults)
    async with build_worker(client, queue, pieces.clients):
        for guest_id in guest_ids:
            handle = await automations.registration_arrived(pieces.org_id, event_id, guest_id)
        # Time is not skipped until the result is awaited: the batch is decided, written and
        # reported in real time first.
        async with asyncio.timeout(60):
            while True:
                async with pieces.sessions() as session:
                    states = list(
                        await session.scalars(
                            select(PolicyDecision.state).where(
                                PolicyDecision.org_id == pieces.org_id,
                                PolicyDecision.luma_event_id == event_id,
                            )
                        )
                    )
                if len(states) == len(emails) and set(states) <= {"written", "held"}:
                    break
                await asyncio.sleep(0.05)
            # Then until the batch's activities are done and the workflow waits, idle.
            while True:
                events = (await handle.fetch_history()).events
                kinds = Counter(item.WhichOneof("attributes") for item in events)
                scheduled = kinds["activity_task_scheduled_event_attributes"]
                completed = kinds["activity_task_completed_event_attributes"]
                waiting = events[-1].HasField("timer_started_event_attributes")
                if scheduled and scheduled == completed and waiting:
                    break
                await asyncio.sleep(0.05)
        async with pieces.sessions() as session:
            rows = await session.execute(
                select(PolicyDecision.email, PolicyDecision.action).where(
                    PolicyDecision.org_id == pieces.org_id,
                    PolicyDecision.luma_event_id == event_id,
                )
            )
            decided = {email: action for email, action in rows}
        expected = dict(zip(emails, ["approve", "waitlist", "hold"], strict=True))
        assert decided == expected, decided
        await handle.result()  # the IDLE timer passes at once
        histories = await runs_of(client, handle.id)
    # Written here: this one lives on the time-skipping server, not the dev server.
    for path in save(histories, "auto-one-batch", replace=pieces.replace):
        log.info("wrote %s", path.relative_to(HERE))
    return []


async def invite_list(pieces: Pieces) -> list[str]:
    """Three addresses: one already on the guest list, one new, one not an address."""
    sim = pieces.simulator
    event_id = sim.state.add_event(pieces.calendar_id, name="Invite Night", guests=1)
    event = sim.state.event(event_id)
    present = next(iter(event.guests.values())).person.email
    caller = Caller(pieces.org_id, Role.ADMIN, "api", 1, CHAT_ID)
    listed = parse_text(f"{present}\nnew.person@invitees.example\nnot-an-address")
    async with pieces.sessions.begin() as session:
        stored = await session.scalar(
            select(Event).where(Event.org_id == pieces.org_id, Event.luma_event_id == event_id)
        )
        cached = stored or Event(org_id=pieces.org_id, luma_event_id=event_id, name="Invite Night")
        job = await invites.stage(caller, session, event=cached, invitees=listed, how="add")
    handle = await invites.launch(pieces.automations, job, pieces.sessions)
    await handle.result()
    return [handle.id]


async def crm_sync(pieces: Pieces) -> list[str]:
    """The synced guests' profiles to Airtable, one person refused: their request's batch is
    listed as failed, the rest written, and the report posted in the chat."""
    airtable = pieces.airtable
    assert airtable is not None
    async with pieces.sessions() as session:
        first = await session.scalar(
            select(func.min(Guest.normalized_email)).where(Guest.org_id == pieces.org_id)
        )
        addresses = await session.scalars(
            select(Guest.email).where(
                Guest.org_id == pieces.org_id, Guest.normalized_email == first
            )
        )
        airtable.refuse_emails.update(addresses.all())
    async with pieces.sessions.begin() as session:
        await crm.configure(
            Caller(pieces.org_id, Role.ADMIN, "web"),
            session,
            automations=pieces.automations,
            keybox=pieces.keybox,
            form=crm.CrmSettings(
                kind="airtable", token=airtable.token, base_id="appRECORDING00001", table="Guests"
            ),
        )
    handle = await pieces.automations.start_crm_sync(pieces.org_id, chat_id=CHAT_ID)
    await handle.result()
    return [handle.id]


SCENARIOS: dict[str, tuple[str, Callable[[Pieces], Awaitable[list[str]]]]] = {
    "SyncOrgWorkflow": ("sync-with-summary-child", sync_org),
    "RefreshGuestWorkflow": ("refresh", refresh_guest),
    "BulkStatusWorkflow": ("windows-pause-resume-cancel", bulk_status),
    "SetGuestStatusWorkflow": ("approve", set_guest_status),
    "DailyDigestWorkflow": ("forced", daily_digest),
    "EnrichOrgWorkflow": ("pdl", enrich_org),
    "FollowupWorkflow": ("continue-as-new", followup),
    # A kind's further scenarios are keyed `<WorkflowType>:<what>`.
    "FollowupWorkflow:daily-limit": ("gmail-daily-limit", followup_daily_limit),
    "PostEventSummaryWorkflow": ("timers", post_event_summary),
    "ApprovalPolicyWorkflow": ("auto-one-batch", approval_policy),
    "InviteListWorkflow": ("add-three", invite_list),
    "CrmSyncWorkflow": ("airtable-refused-batch", crm_sync),
}


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = await asyncio.to_thread(create_database, "lumabot_record")
    try:
        url = pg_url_for(name)
        await asyncio.to_thread(runner.upgrade, url)
        yield url
    finally:
        await asyncio.to_thread(drop_database, name)


async def record(kinds: list[str], *, replace: bool) -> None:
    settings = Settings(_env_file=None)  # the defaults, not .env
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(database())
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        sessions = session_factory(engine)
        keybox = KeyBox([Fernet.generate_key().decode()])
        converter = data_converter([Fernet.generate_key().decode()])

        port, http_port, metrics_port, ts_port = stack.enter_context(reserved_ports(4))
        dev = await stack.enter_async_context(
            await WorkflowEnvironment.start_local(
                dev_server_existing_path=str(temporal_cli()),
                search_attributes=list(SEARCH_ATTRIBUTES),
                ui=False,
                port=port,
                data_converter=converter,
                dev_server_extra_args=[
                    "--http-port",
                    str(http_port),
                    "--metrics-port",
                    str(metrics_port),
                ],
            )
        )
        time_skipping = await stack.enter_async_context(
            await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(temporal_test_server()),
                port=ts_port,
                data_converter=converter,
            )
        )

        sim = await stack.enter_async_context(
            running_simulator(SimulatorConfig(seed=SEED, calendars=0, rate_limit=None))
        )
        telegram = await stack.enter_async_context(running_local_api())
        bot = create_bot(telegram.state.default_bot.token, telegram.base_url)
        stack.push_async_callback(bot.session.close)
        fake = await stack.enter_async_context(running_fake_provider())
        airtable = await stack.enter_async_context(running_fake_airtable())
        inbox = Inbox()
        smtp = SocketController(inbox)
        inbox.port = smtp.port
        smtp.start()
        stack.callback(smtp.stop)

        budget = DatabaseRateBudget(sessions, BudgetPolicy(limit=100_000))
        pool = await stack.enter_async_context(LumaPool(sim.base_url, budget=budget, timeout=5))
        signing_keys = [Fernet.generate_key().decode()]
        google = GoogleStandin(daily_quota=2, day_seconds=1.5)
        google_url = await stack.enter_async_context(running_google_standin(google))
        mail = MailSetup(
            SmtpMailer("127.0.0.1", inbox.port, sender=SENDER, starttls=False, timeout=5),
            UnsubscribeSigner(lambda: signing_keys),
            "http://api.test",
            GmailSenders(google_client(google, google_url), keybox),
        )
        stack.push_async_callback(mail.aclose)
        clients = WorkerClients(
            sessions,
            LumaAccess(sessions, keybox, pool),
            bot,
            mail,
            enrichment=dataclasses.replace(
                EnrichmentConfig.from_settings(settings),
                base_urls={"pdl": fake.url, "apollo": fake.url},
                concurrency=3,
                max_wait_seconds=1.5,
            ),
            crm=dataclasses.replace(
                CrmConfig.from_settings(settings),
                services={"airtable": ConnectorConfig(airtable.url, 50, 0.05)},
            ),
        )
        defaults = dataclasses.replace(
            JobDefaults.from_settings(settings),
            task_queue=f"record-{uuid.uuid4().hex}",
            batch_size=40,
            concurrency=4,
            heartbeat_timeout_seconds=10,
            followup_batch_size=1,
        )
        automations = Automations(dev.client, defaults)
        await stack.enter_async_context(build_worker(dev.client, defaults.task_queue, clients))

        org = await link_calendar(sessions, keybox, sim, "Recording Calendar")
        for chat_id in (CHAT_ID, CHAT_ID - 1, CHAT_ID - 2):
            telegram.state.add_chat(chat_id, title="Team")
        pieces = Pieces(
            automations=automations,
            sessions=sessions,
            keybox=keybox,
            clients=clients,
            time_skipping=time_skipping,
            org_id=org.org_id,
            calendar_id=org.calendar_id,
            simulator=sim,
            fake_provider=fake,
            replace=replace,
            google=google,
            airtable=airtable,
        )
        await link_chat(pieces, org.org_id, CHAT_ID)
        # Something to sync, digest and enrich, cached before any scenario runs.
        sim.state.add_event(
            org.calendar_id,
            name="Winter Gala",
            start_at=datetime.now(UTC) + timedelta(days=3),
            guests=30,
            status_mix={"pending_approval": 0.5, "approved": 0.5},
        )
        await (await automations.sync_now(org.org_id)).result()

        for kind in [kind for kind in SCENARIOS if kind in kinds]:
            scenario, run = SCENARIOS[kind]
            log.info("recording %s (%s)", kind, scenario)
            async with asyncio.timeout(180):
                workflow_ids = await run(pieces)
            for workflow_id in workflow_ids:
                histories = await runs_of(dev.client, workflow_id)
                name = histories[0].events[0].workflow_execution_started_event_attributes
                own = name.workflow_type.name == kind.partition(":")[0]
                label = scenario if own else f"from-{scenario}"
                for path in save(histories, label, replace=replace):
                    log.info("wrote %s", path.relative_to(HERE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", help="workflow types to record (default: all)")
    parser.add_argument("--replace", action="store_true", help="overwrite today's recordings")
    args = parser.parse_args()
    unknown = set(args.kinds) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown workflow types: {sorted(unknown)}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    asyncio.run(record(args.kinds or list(SCENARIOS), replace=args.replace))


if __name__ == "__main__":
    main()
