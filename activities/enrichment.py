"""Enrichment's I/O: the org's provider and key, cached answers, and provider lookups.

The provider key never leaves this module: workflows pass an org id, the activity reads the
encrypted key and decrypts it here (which also registers it with the log redactor). A batch
is idempotent: every answer is cached as it arrives, so a retried batch asks the provider
only about the people it had not answered yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from core.settings import Settings
from intel.enrichment import InvalidProviderKey, PersonInfo, ProviderUnavailable, RateLimited
from intel.enrichment import store as enrichment_store
from intel.enrichment.http import HttpProvider
from intel.enrichment.runner import lookup_all
from store.crypto import KeyBox
from store.models import utcnow
from workflows.contracts.enrichment import EnrichBatch, EnrichBatchResult, EnrichOrgRef, EnrichPlan


@dataclass
class EnrichmentConfig:
    """Worker-side tunables: provider URLs, time-to-live and the politeness limits.

    No defaults of its own: `from_settings` is how one is made, so the numbers live in
    `Settings` (and `core.defaults`) only. Tests change a field with `dataclasses.replace`.
    """

    base_urls: dict[str, str]
    ttl: timedelta
    concurrency: int
    max_wait_seconds: float
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> EnrichmentConfig:
        return cls(
            base_urls={
                "pdl": settings.enrichment_pdl_url,
                "apollo": settings.enrichment_apollo_url,
            },
            ttl=timedelta(days=settings.enrichment_ttl_days),
            concurrency=settings.enrichment_concurrency,
            max_wait_seconds=settings.enrichment_max_wait_seconds,
            timeout_seconds=settings.enrichment_timeout_seconds,
        )


class EnrichActivities:
    """Holds the database and the key box; opens an HTTP client per batch."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], keybox: KeyBox, config: EnrichmentConfig
    ) -> None:
        self.sessions = sessions
        self.keybox = keybox
        self.config = config

    @activity.defn
    async def enrichment_plan(self, ref: EnrichOrgRef) -> EnrichPlan:
        """Whether the org has enrichment on, and with which provider."""
        async with self.sessions() as session:
            row = await enrichment_store.get_settings(session, org_id=ref.org_id)
        if row is None or not row.enabled:
            return EnrichPlan(False)
        return EnrichPlan(True, row.provider)

    @activity.defn
    async def enrich_batch(self, batch: EnrichBatch) -> EnrichBatchResult:
        """One page of people: cached answers applied, the others looked up and cached."""
        now = utcnow()
        async with self.sessions.begin() as session:
            row = await enrichment_store.get_settings(session, org_id=batch.org_id)
            if row is None or not row.enabled:
                return EnrichBatchResult()  # switched off meanwhile: stop quietly
            provider_name, ciphertext = row.provider, row.key_ciphertext
            people = await enrichment_store.people_page(
                session, org_id=batch.org_id, after=batch.after, limit=batch.limit
            )
            cached = await enrichment_store.fresh_entries(
                session,
                org_id=batch.org_id,
                provider=provider_name,
                keys=[p.normalized_email for p in people],
                now=now,
            )
            await enrichment_store.apply_entries(session, org_id=batch.org_id, entries=cached)
        known = {entry.normalized_email for entry in cached}
        due = {p.email: p.normalized_email for p in people if p.normalized_email not in known}
        result = EnrichBatchResult(
            people=len(people),
            from_cache=len(known),
            last=people[-1].normalized_email if people else batch.after,
            done=len(people) < batch.limit,
        )
        if not due:
            return result

        async def save(email: str, info: PersonInfo | None) -> None:
            async with self.sessions.begin() as session:
                await enrichment_store.save_answer(
                    session,
                    org_id=batch.org_id,
                    provider=provider_name,
                    normalized_email=due[email],
                    info=info,
                    now=utcnow(),
                    ttl=self.config.ttl,
                )
            result.looked_up += 1
            result.found += info is not None
            progress.value = result.looked_up

        key = self.keybox.decrypt(ciphertext)
        async with (
            httpx.AsyncClient(timeout=self.config.timeout_seconds) as client,
            heartbeating(0) as progress,
        ):
            provider = HttpProvider(
                provider_name, self.config.base_urls[provider_name], key, client
            )
            try:
                await lookup_all(
                    provider,
                    list(due),
                    save,
                    concurrency=self.config.concurrency,
                    max_wait=self.config.max_wait_seconds,
                )
            except InvalidProviderKey as exc:
                raise ApplicationError(
                    exc.message, type="InvalidProviderKey", non_retryable=True
                ) from None
            except RateLimited as exc:
                # Come back when the provider said to, with what is done already cached.
                raise ApplicationError(
                    exc.message,
                    type="RateLimited",
                    next_retry_delay=timedelta(seconds=max(exc.retry_after, 1.0)),
                ) from None
            except ProviderUnavailable as exc:
                raise ApplicationError(exc.message, type="ProviderUnavailable") from None
        return result

    @activity.defn
    async def finish_enrichment(self, ref: EnrichOrgRef) -> None:
        async with self.sessions.begin() as session:
            await enrichment_store.mark_run(session, org_id=ref.org_id, at=utcnow())
