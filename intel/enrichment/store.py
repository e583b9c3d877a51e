"""Enrichment's rows: each org's provider and encrypted key, the answer cache, the profiles.

Every function takes the tenant (`org_id`) as a required keyword. The provider key is stored
with the same `KeyBox` as Luma keys and only its last four characters are ever shown. Cached
answers (found or not) are reused until `expires_at`, so a person costs one provider call
per time-to-live however often enrichment runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intel.enrichment import PersonInfo
from store.crypto import KeyBox, fingerprint
from store.db import upsert_insert
from store.models import EnrichmentCacheEntry, Guest, GuestProfile, OrgEnrichment, utcnow


@dataclass(frozen=True)
class Person:
    """One person to enrich: the profile key, and an address of theirs to look up."""

    normalized_email: str
    email: str


async def save_provider(
    session: AsyncSession,
    *,
    org_id: int,
    provider: str,
    api_key: str,
    keybox: KeyBox,
    user_id: int | None,
) -> OrgEnrichment:
    """Store (or replace) the org's provider and key, and turn enrichment on."""
    row = await session.get(OrgEnrichment, org_id)
    if row is None:
        row = OrgEnrichment(org_id=org_id)
        session.add(row)
    row.provider = provider
    row.key_ciphertext = keybox.encrypt(api_key)
    row.key_fingerprint = fingerprint(api_key)
    row.enabled = True
    row.updated_by = user_id
    await session.flush()
    return row


async def get_settings(session: AsyncSession, *, org_id: int) -> OrgEnrichment | None:
    return await session.get(OrgEnrichment, org_id)


async def set_enabled(
    session: AsyncSession, *, org_id: int, enabled: bool, user_id: int | None
) -> OrgEnrichment | None:
    """Switch an org's enrichment on or off; None when no provider was ever set."""
    row = await session.get(OrgEnrichment, org_id)
    if row is not None:
        row.enabled, row.updated_by = enabled, user_id
        await session.flush()
    return row


async def people_page(
    session: AsyncSession, *, org_id: int, after: str, limit: int
) -> list[Person]:
    """The org's people in key order after `after` (a keyset page), live guests only."""
    rows = await session.execute(
        select(Guest.normalized_email, func.min(Guest.email))
        .where(
            Guest.org_id == org_id,
            Guest.gone_at.is_(None),
            Guest.normalized_email > after,
        )
        .group_by(Guest.normalized_email)
        .order_by(Guest.normalized_email)
        .limit(limit)
    )
    return [Person(key, email) for key, email in rows]


async def fresh_entries(
    session: AsyncSession, *, org_id: int, provider: str, keys: Sequence[str], now: datetime
) -> list[EnrichmentCacheEntry]:
    """Cached answers for these people that have not expired yet."""
    if not keys:
        return []
    result = await session.scalars(
        select(EnrichmentCacheEntry).where(
            EnrichmentCacheEntry.org_id == org_id,
            EnrichmentCacheEntry.provider == provider,
            EnrichmentCacheEntry.normalized_email.in_(keys),
            EnrichmentCacheEntry.expires_at > now,
        )
    )
    return list(result.all())


async def save_answer(
    session: AsyncSession,
    *,
    org_id: int,
    provider: str,
    normalized_email: str,
    info: PersonInfo | None,
    now: datetime,
    ttl: timedelta,
) -> None:
    """Cache one answer (an unknown person too) and put what was found on the profile."""
    values = {
        "org_id": org_id,
        "provider": provider,
        "normalized_email": normalized_email,
        "found": info is not None,
        "company": info.company if info else None,
        "title": info.title if info else None,
        "seniority": info.seniority if info else None,
        "fetched_at": now,
        "expires_at": now + ttl,
    }
    insert = upsert_insert(session.get_bind().dialect.name, EnrichmentCacheEntry).values(values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["org_id", "provider", "normalized_email"],
            set_={k: insert.excluded[k] for k in values if k not in ("org_id", "provider")},
        )
    )
    if info is not None:
        await _apply(session, org_id=org_id, normalized_email=normalized_email, info=info, at=now)


async def apply_entries(
    session: AsyncSession, *, org_id: int, entries: Sequence[EnrichmentCacheEntry]
) -> None:
    """Put cached findings on profiles (a profile rebuilt or created since the lookup)."""
    for entry in entries:
        if entry.found:
            info = PersonInfo(entry.company, entry.title, entry.seniority)
            await _apply(
                session,
                org_id=org_id,
                normalized_email=entry.normalized_email,
                info=info,
                at=entry.fetched_at,
            )


async def _apply(
    session: AsyncSession, *, org_id: int, normalized_email: str, info: PersonInfo, at: datetime
) -> None:
    await session.execute(
        update(GuestProfile)
        .where(GuestProfile.org_id == org_id, GuestProfile.normalized_email == normalized_email)
        .values(
            enriched_company=info.company,
            enriched_title=info.title,
            seniority=info.seniority,
            enriched_at=at,
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class CacheStats:
    cached: int
    found: int
    profiles_enriched: int


async def cache_stats(
    session: AsyncSession, *, org_id: int, now: datetime | None = None
) -> CacheStats:
    """How many answers are cached and fresh, how many found someone, profiles enriched."""
    now = now or utcnow()
    fresh = (EnrichmentCacheEntry.org_id == org_id, EnrichmentCacheEntry.expires_at > now)
    cached = await session.scalar(select(func.count()).where(*fresh))
    found = await session.scalar(select(func.count()).where(*fresh, EnrichmentCacheEntry.found))
    enriched = await session.scalar(
        select(func.count()).where(
            GuestProfile.org_id == org_id, GuestProfile.enriched_at.is_not(None)
        )
    )
    return CacheStats(cached or 0, found or 0, enriched or 0)


async def mark_run(session: AsyncSession, *, org_id: int, at: datetime) -> None:
    await session.execute(
        update(OrgEnrichment).where(OrgEnrichment.org_id == org_id).values(last_run_at=at)
    )
