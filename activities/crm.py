"""CRM sync's I/O: the org's connector and token, its profiles, the service, the run's row.

The token never leaves this module: workflows pass an org id, the activity reads the
encrypted token and decrypts it here (which also registers it with the log redactor). A
page is idempotent: each request's records are recorded as pushed as soon as the service
accepts them, so a retried page sends only the people still due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from activities.luma_access import LumaAccess
from crm import store as crm_store
from crm.base import CrmRecord, InvalidToken, Rejected, Unavailable
from crm.connectors import CrmConfig
from crm.fields import fields_hash, record_of
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from store.crypto import KeyBox
from store.models import Chat, OrgCrmConnector
from workflows.contracts.crm import (
    INVALID_TOKEN,
    REJECTED,
    UNAVAILABLE,
    CrmBatch,
    CrmBatchFailed,
    CrmBatchResult,
    CrmContactTags,
    CrmContactTagsResult,
    CrmPlan,
    CrmReport,
    CrmRunClose,
    CrmRunOpen,
)


@dataclass(frozen=True)
class _Due:
    """A page of people: the records still due (with their hashes) and how many there were."""

    profiles: int
    records: list[tuple[str, str, CrmRecord]]  # (person key, hash, record)
    last: str


class CrmActivities:
    """Holds the database, the key box, the services' configuration, the VIP rules, and
    Luma (for pushing our tags as contact tags)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keybox: KeyBox,
        config: CrmConfig,
        vip_rules: VipRules,
        luma: LumaAccess,
    ) -> None:
        self.sessions = sessions
        self.keybox = keybox
        self.config = config
        self.vip_rules = vip_rules
        self.luma = luma

    @activity.defn
    async def open_crm_run(self, ref: CrmRunOpen) -> CrmPlan:
        """The run's row, when the org has a connector switched on."""
        async with self.sessions.begin() as session:
            row = await crm_store.get_connector(session, org_id=ref.org_id)
            if row is None or not row.enabled:
                return CrmPlan(False)
            run_id = await crm_store.open_run(
                session, org_id=ref.org_id, run_key=ref.run_key, connector=row.kind
            )
            return CrmPlan(True, run_id, row.kind, row.luma_contact_tags)

    async def _due(
        self, session: AsyncSession, row: OrgCrmConnector, org_id: int, after: str, limit: int
    ) -> _Due:
        rules = await vip_rules_for(session, org_id=org_id, defaults=self.vip_rules)
        people = await crm_store.people_page(
            session, org_id=org_id, after=after, limit=limit, rules=rules
        )
        saved = await crm_store.saved_hashes(
            session, org_id=org_id, connector=row.kind, keys=[p.key for p in people]
        )
        records = []
        for person in people:
            record = record_of(row.kind, person, row.field_map)
            digest = fields_hash(row.kind, row.target, record)
            if saved.get(person.key) != digest:
                records.append((person.key, digest, record))
        return _Due(len(people), records, people[-1].key if people else after)

    @activity.defn
    async def push_crm_batch(self, batch: CrmBatch) -> CrmBatchResult:
        """One page of people: those changed since their last write are upserted, a request
        at a time, each request's people recorded as pushed once the service accepts them."""
        async with self.sessions() as session:
            row = await crm_store.get_connector(session, org_id=batch.org_id)
            if row is None or not row.enabled:
                return CrmBatchResult()  # switched off meanwhile: stop quietly
            due = await self._due(session, row, batch.org_id, batch.after, batch.limit)
            kind, target, email_field = row.kind, dict(row.target), row.field_map["email"]
            ciphertext = row.token_ciphertext
        result = CrmBatchResult(
            profiles=due.profiles,
            unchanged=due.profiles - len(due.records),
            last=due.last,
            done=due.profiles < batch.limit,
        )
        if not due.records:
            return result
        token = self.keybox.decrypt(ciphertext)
        async with self.config.client() as client, heartbeating(0) as progress:
            connector = self.config.connector(
                kind, client, token=token, target=target, email_field=email_field
            )
            for start in range(0, len(due.records), connector.max_records):
                chunk = due.records[start : start + connector.max_records]
                try:
                    await connector.upsert([record for _, _, record in chunk])
                except InvalidToken as exc:
                    raise ApplicationError(
                        exc.message, type=INVALID_TOKEN, non_retryable=True
                    ) from None
                except Rejected as exc:
                    raise ApplicationError(exc.message, type=REJECTED, non_retryable=True) from None
                except Unavailable as exc:
                    raise ApplicationError(exc.message, type=UNAVAILABLE) from None
                async with self.sessions.begin() as session:
                    await crm_store.save_hashes(
                        session,
                        org_id=batch.org_id,
                        connector=kind,
                        run_id=batch.run_id,
                        hashes={key: digest for key, digest, _ in chunk},
                    )
                result.written += len(chunk)
                progress.value = result.written
            result.rate_limited = connector.rate_limited
        return result

    @activity.defn
    async def push_contact_tags(self, push: CrmContactTags) -> CrmContactTagsResult:
        """Our tags onto the org's Luma calendar as contact tags: the tags Luma lacks are
        made, then each is applied to everyone carrying it. Everyone, not only what changed:
        applying is idempotent on Luma's side and skips people who are not contacts yet, so
        sending all again also reaches those who became contacts since, and a retried
        attempt is harmless. The cost is one listing, one request per missing tag and one
        per 100 people per tag, spent from the calendar's shared Luma budget."""
        async with self.sessions() as session:
            row = await crm_store.get_connector(session, org_id=push.org_id)
            if row is None or not row.enabled or not row.luma_contact_tags:
                return CrmContactTagsResult()  # switched off meanwhile
            tagged = await crm_store.tagged_emails(session, org_id=push.org_id)
        if not tagged:
            return CrmContactTagsResult()
        luma = await self.luma.client(push.org_id)
        if luma.calendar_id is not None:
            # An organization key: the contact-tag routes name no calendar, so it cannot say
            # which of its calendars to tag.
            return CrmContactTagsResult()
        result = CrmContactTagsResult(tags=len(tagged))
        async with heartbeating(0) as progress:
            ids = await luma.ensure_contact_tags(tagged)
            for tag, emails in tagged.items():
                applied = await luma.apply_contact_tag(ids[tag], emails)
                result.applied += applied.applied_count
                result.skipped += applied.skipped_count
                progress.value += 1
        return result

    @activity.defn
    async def record_crm_failure(self, failed: CrmBatchFailed) -> CrmBatchResult:
        """A page given up on: the people in it still due are listed on the run with the
        error (not recorded as pushed, so the next run sends them again)."""
        async with self.sessions.begin() as session:
            row = await crm_store.get_connector(session, org_id=failed.org_id)
            if row is None:
                return CrmBatchResult()
            due = await self._due(session, row, failed.org_id, failed.after, failed.limit)
            emails: Sequence[str] = [key for key, _, _ in due.records]
            await crm_store.add_failure(
                session,
                org_id=failed.org_id,
                run_id=failed.run_id,
                error=failed.error,
                emails=emails,
            )
        return CrmBatchResult(
            profiles=due.profiles,
            unchanged=due.profiles - len(emails),
            failed=len(emails),
            last=due.last,
            done=due.profiles < failed.limit,
        )

    @activity.defn
    async def close_crm_run(self, close: CrmRunClose) -> CrmReport:
        """Settle the run's counts, and say who hears about it: the chat that asked, else
        the org's linked chats when something was written or failed."""
        async with self.sessions.begin() as session:
            run = await crm_store.close_run(
                session,
                org_id=close.org_id,
                run_id=close.run_id,
                profiles=close.profiles,
                failed=close.failed,
                error=close.error,
            )
            if close.chat_id is not None:
                notify = [close.chat_id]
            elif run.written or run.failed or run.error:
                chats = await session.scalars(
                    select(Chat.id).where(Chat.org_id == close.org_id).order_by(Chat.id)
                )
                notify = list(chats)
            else:
                notify = []
            return CrmReport(
                True,
                run.connector,
                run.profiles,
                run.written,
                run.unchanged,
                run.failed,
                len(run.failures),
                run.error,
                notify,
            )
