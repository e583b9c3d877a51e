"""The Temporal worker: every workflow and activity of the product on one task queue.

Run with `lumabot worker`. It owns the process's clients (database engine, one Luma
connection pool, the Telegram bot for notifications) and hands them to the activity classes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.bulk import BulkActivities
from activities.crm import CrmActivities
from activities.digest import DigestActivities
from activities.enrichment import EnrichActivities, EnrichmentConfig
from activities.followups import FollowupActivities
from activities.guest_status import GuestStatusActivities
from activities.invites import InviteActivities
from activities.log_context import LogContextInterceptor
from activities.luma_access import LumaAccess, LumaFailureInterceptor
from activities.notify import NotifyActivities
from activities.policies import PolicyActivities
from activities.summary import SummaryActivities
from activities.sync import SyncActivities
from bot.factory import create_bot
from core.metrics import MeteredBudget, metrics_served, temporal_runtime
from core.payload_codec import data_converter
from core.settings import Settings, get_settings
from crm.connectors import CrmConfig
from intel.rubric import RubricReader
from intel.vip import VipRules
from luma import BudgetPolicy, LumaPool
from luma.ratelimit import ceilings
from mailer import MailSetup, mail_setup
from services.automations import Automations, JobDefaults, register_search_attributes
from services.rubric_reader import rubric_reader
from store.crypto import KeyBox
from store.db import engine_for, session_factory
from store.rate_budget import DatabaseRateBudget
from workflows.bulk import BulkStatusWorkflow
from workflows.crm import CrmSyncWorkflow
from workflows.digest import DailyDigestWorkflow
from workflows.enrichment import EnrichOrgWorkflow
from workflows.followups import FollowupWorkflow
from workflows.guest_status import SetGuestStatusWorkflow
from workflows.invites import InviteListWorkflow
from workflows.policies import ApprovalPolicyWorkflow
from workflows.summary import PostEventSummaryWorkflow
from workflows.sync import RefreshGuestWorkflow, SyncOrgWorkflow

log = logging.getLogger("lumabot.worker")
NO_BOT_WARNING = (
    "BOT_TOKEN is not set: no digest, summary or job report will reach Telegram; each is "
    "recorded as not sent (set BOT_TOKEN and restart the worker)"
)

WORKFLOWS: Sequence[type] = (
    BulkStatusWorkflow,
    SetGuestStatusWorkflow,
    SyncOrgWorkflow,
    RefreshGuestWorkflow,
    DailyDigestWorkflow,
    PostEventSummaryWorkflow,
    EnrichOrgWorkflow,
    FollowupWorkflow,
    ApprovalPolicyWorkflow,
    InviteListWorkflow,
    CrmSyncWorkflow,
)


@dataclass
class WorkerClients:
    sessions: async_sessionmaker[AsyncSession]
    luma: LumaAccess
    bot: Bot | None
    # Follow-up emails: MAIL_BACKEND's sender and orgs' own Gmail; None when neither is set up.
    mail: MailSetup | None = None
    # The configured one (tests build WorkerClients without it); `worker_clients` passes its own.
    enrichment: EnrichmentConfig = field(
        default_factory=lambda: EnrichmentConfig.from_settings(get_settings())
    )
    # The settings' VIP rules: only the defaults of orgs without their own (intel.vip_rules).
    vip_rules: VipRules = field(default_factory=lambda: VipRules.from_settings(get_settings()))
    rubric: RubricReader | None = None  # approval rubrics' reader (Gemini); None: not set up
    crm: CrmConfig = field(default_factory=lambda: CrmConfig.from_settings(get_settings()))


def activities_for(clients: WorkerClients, automations: Automations | None = None) -> list[Any]:
    """Bound activity methods, each class holding the clients it needs (`automations`: the
    worker's own Temporal client, for the sync handing missed registrations to policies)."""
    bulk = BulkActivities(clients.luma, clients.vip_rules)
    sync = SyncActivities(clients.luma, registrations=automations)
    summary = SummaryActivities(clients.luma)
    digest = DigestActivities(clients.sessions)
    notify = NotifyActivities(clients.bot, clients.sessions)
    guest_status = GuestStatusActivities(clients.luma)
    enrichment = EnrichActivities(clients.sessions, clients.luma.keybox, clients.enrichment)
    followups = FollowupActivities(clients.sessions, clients.mail)
    policies = PolicyActivities(clients.luma, clients.vip_rules, clients.rubric)
    invites = InviteActivities(clients.luma)
    crm = CrmActivities(
        clients.sessions, clients.luma.keybox, clients.crm, clients.vip_rules, clients.luma
    )
    return [
        bulk.resolve_bulk_targets,
        bulk.apply_bulk_batch,
        bulk.bulk_job_totals,
        sync.sync_events,
        sync.sync_event_guests,
        sync.finish_org_sync,
        sync.deliver_missed_registrations,
        sync.refresh_guest,
        summary.event_timing,
        summary.compute_summary,
        summary.summary_recipients,
        digest.build_digest,
        digest.mark_digest_sent,
        notify.notify_chat,
        guest_status.set_guest_status,
        enrichment.enrichment_plan,
        enrichment.enrich_batch,
        enrichment.finish_enrichment,
        followups.resolve_followup_recipients,
        followups.send_followup_batch,
        followups.followup_counts,
        policies.decide_registrations,
        policies.write_policy_decisions,
        policies.policy_batch_report,
        policies.promote_waitlisted,
        invites.mark_already_invited,
        invites.send_invite_batch,
        invites.reconcile_invites,
        crm.open_crm_run,
        crm.push_crm_batch,
        crm.record_crm_failure,
        crm.push_contact_tags,
        crm.close_crm_run,
    ]


@asynccontextmanager
async def worker_clients(settings: Settings) -> AsyncIterator[WorkerClients]:
    """The process's clients, closed in reverse order on the way out.

    The pool's own retry count does not matter here: `LumaAccess` hands activities
    single-attempt clients, and Temporal's retry policy retries them.
    """
    engine = engine_for(settings)
    sessions = session_factory(engine)
    budget = MeteredBudget(
        DatabaseRateBudget(
            sessions,
            BudgetPolicy.scaled(settings.luma_rate_limit, settings.luma_rate_window_seconds),
            limits=ceilings(settings.luma_rate_limit),
        )
    )
    pool = LumaPool(
        settings.luma_api_url,
        legacy_paths=settings.luma_legacy_paths,
        budget=budget,
        timeout=settings.luma_timeout_seconds,
    )
    bot = (
        create_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
        if settings.bot_token
        else None
    )
    if bot is None:
        log.warning(NO_BOT_WARNING)
    keybox = KeyBox(settings.resolved_encryption_keys())
    mail = mail_setup(settings)
    rubric = rubric_reader(settings, sessions)
    try:
        yield WorkerClients(
            sessions,
            LumaAccess(sessions, keybox, pool),
            bot,
            mail,
            enrichment=EnrichmentConfig.from_settings(settings),
            vip_rules=VipRules.from_settings(settings),
            rubric=rubric,
            crm=CrmConfig.from_settings(settings),
        )
    finally:
        if rubric is not None:
            await rubric.aclose()
        if mail is not None:
            await mail.aclose()
        if bot is not None:
            await bot.session.close()
        await pool.aclose()
        await engine.dispose()


@asynccontextmanager
async def _served(settings: Settings) -> AsyncIterator[None]:
    """Our own metrics on METRICS_PORT while the worker runs (core.metrics)."""
    with metrics_served(settings.metrics_port, settings.metrics_host):
        yield


def build_worker(client: Client, task_queue: str, clients: WorkerClients) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        # Workflows it starts run on this worker's task queue, like every other.
        activities=activities_for(clients, Automations(client, JobDefaults(task_queue=task_queue))),
        graceful_shutdown_timeout=timedelta(seconds=10),
        # Luma errors become final or Luma-paced activity failures (Temporal owns retries).
        interceptors=[LumaFailureInterceptor(), LogContextInterceptor()],
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Connect, register search attributes, and work until `stop` is set (by default, by
    SIGTERM or Ctrl-C)."""
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.resolved_payload_keys()),
        # The SDK's metrics on TEMPORAL_METRICS_PORT (core.metrics); unset: none exported.
        runtime=temporal_runtime(settings.temporal_metrics_port, settings.metrics_host),
    )
    added = await register_search_attributes(client, settings.temporal_namespace)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    async with (
        worker_clients(settings) as clients,
        _served(settings),
    ):
        worker = build_worker(client, settings.temporal_task_queue, clients)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
        log.info("worker polling %s on %s", settings.temporal_task_queue, settings.temporal_address)
        async with worker:
            await stop.wait()
            log.info("shutting down: finishing in-flight activities")
    log.info("worker stopped")
