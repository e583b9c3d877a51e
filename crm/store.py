"""CRM sync's rows: each org's connector, what was last pushed per person, and the runs.

Every function takes the tenant (`org_id`) as a required keyword and filters on it: a run
reads its own org's profiles and state only. The token is stored with the same `KeyBox` as
Luma keys; only its last four characters are ever shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.fields import Person
from intel.people import insights_for
from intel.vip import VipRules
from store.crypto import KeyBox, fingerprint
from store.db import upsert_insert
from store.models import (
    CrmRecordState,
    CrmSyncRun,
    Event,
    Guest,
    GuestProfile,
    GuestTag,
    OrgCrmConnector,
    utcnow,
)

FAILURE_EMAILS = 20  # people named per failed batch (the count says how many in all)


async def get_connector(session: AsyncSession, *, org_id: int) -> OrgCrmConnector | None:
    return await session.get(OrgCrmConnector, org_id)


async def save_connector(
    session: AsyncSession,
    *,
    org_id: int,
    kind: str,
    token: str | None,
    keybox: KeyBox,
    target: Mapping[str, Any],
    field_map: Mapping[str, str],
    enabled: bool,
    luma_contact_tags: bool,
    user_id: int | None,
) -> OrgCrmConnector:
    """Store (or replace) the org's connector; `token` None keeps the stored one."""
    row = await session.get(OrgCrmConnector, org_id)
    if row is None:
        row = OrgCrmConnector(org_id=org_id)
        session.add(row)
    if token is not None:
        row.token_ciphertext = keybox.encrypt(token)
        row.token_fingerprint = fingerprint(token)
    row.kind = kind
    row.target = dict(target)
    row.field_map = dict(field_map)
    row.enabled = enabled
    row.luma_contact_tags = luma_contact_tags
    row.updated_by = user_id
    await session.flush()
    return row


async def people_page(
    session: AsyncSession, *, org_id: int, after: str, limit: int, rules: VipRules
) -> list[Person]:
    """The org's profiles in key order after `after` (a keyset page), as pushed."""
    keys = list(
        await session.scalars(
            select(GuestProfile.normalized_email)
            .where(GuestProfile.org_id == org_id, GuestProfile.normalized_email > after)
            .order_by(GuestProfile.normalized_email)
            .limit(limit)
        )
    )
    if not keys:
        return []
    insights = await insights_for(
        session, org_id=org_id, emails=keys, rules=rules, with_notes=False
    )
    seen = await session.execute(
        select(Guest.normalized_email, Guest.email, Guest.job_title, Event.name, Event.start_at)
        .join(
            Event,
            (Event.org_id == Guest.org_id) & (Event.luma_event_id == Guest.luma_event_id),
        )
        .where(Guest.org_id == org_id, Guest.normalized_email.in_(keys), Guest.gone_at.is_(None))
    )
    emails: dict[str, str] = {}
    titles: dict[str, str] = {}
    last: dict[str, tuple[Any, str]] = {}
    for key, email, title, event_name, start_at in seen:
        emails[key] = min(emails.get(key, email), email)
        if title:
            titles.setdefault(key, title)
        when = start_at.timestamp() if start_at else 0.0
        if key not in last or when > last[key][0]:
            last[key] = (when, event_name)
    people = []
    for key in keys:
        insight = insights[key]
        profile = insight.profile
        assert profile is not None  # every key is a profile of this org
        people.append(
            Person(
                key=key,
                email=emails.get(key, key),
                name=profile.name,
                company=insight.company or "",
                title=profile.enriched_title or titles.get(key, ""),
                events_attended=profile.events_attended,
                no_shows=profile.no_shows,
                vip_score=insight.vip.score,
                tags=tuple(insight.tags),
                last_event=last[key][1] if key in last else "",
            )
        )
    return people


async def tagged_emails(session: AsyncSession, *, org_id: int) -> dict[str, list[str]]:
    """Each of the org's tags and the emails of the people carrying it, as Luma knows them:
    the addresses they registered with (a tag is kept on the identity key, which drops
    `+tags` and Gmail's dots, so it is not always an address Luma has), the key itself for
    a person never seen as a guest."""
    rows = await session.execute(
        select(GuestTag.tag, GuestTag.normalized_email, Guest.email)
        .outerjoin(
            Guest,
            (Guest.org_id == GuestTag.org_id)
            & (Guest.normalized_email == GuestTag.normalized_email)
            & Guest.gone_at.is_(None),
        )
        .where(GuestTag.org_id == org_id)
        .order_by(GuestTag.tag, GuestTag.normalized_email, Guest.email)
    )
    found: dict[str, dict[str, None]] = {}
    for tag, key, email in rows:
        found.setdefault(tag, {})[email or key] = None
    return {tag: list(emails) for tag, emails in found.items()}


async def saved_hashes(
    session: AsyncSession, *, org_id: int, connector: str, keys: Sequence[str]
) -> dict[str, str]:
    if not keys:
        return {}
    rows = await session.execute(
        select(CrmRecordState.normalized_email, CrmRecordState.fields_hash).where(
            CrmRecordState.org_id == org_id,
            CrmRecordState.connector == connector,
            CrmRecordState.normalized_email.in_(list(keys)),
        )
    )
    return {key: value for key, value in rows}


async def save_hashes(
    session: AsyncSession, *, org_id: int, connector: str, run_id: int, hashes: Mapping[str, str]
) -> None:
    """Record what was just written (the service said yes), so no later run sends it again."""
    if not hashes:
        return
    now = utcnow()
    insert = upsert_insert(session.get_bind().dialect.name, CrmRecordState).values(
        [
            {
                "org_id": org_id,
                "connector": connector,
                "normalized_email": key,
                "fields_hash": value,
                "pushed_at": now,
                "run_id": run_id,
            }
            for key, value in hashes.items()
        ]
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["org_id", "connector", "normalized_email"],
            set_={
                "fields_hash": insert.excluded.fields_hash,
                "pushed_at": insert.excluded.pushed_at,
                "run_id": insert.excluded.run_id,
            },
        )
    )


async def open_run(session: AsyncSession, *, org_id: int, run_key: str, connector: str) -> int:
    """The run's row, made once (a retried activity finds it)."""
    insert = upsert_insert(session.get_bind().dialect.name, CrmSyncRun).values(
        org_id=org_id,
        run_key=run_key,
        connector=connector,
        status="running",
        started_at=utcnow(),
        profiles=0,
        written=0,
        unchanged=0,
        failed=0,
        failures=[],
        error="",
    )
    await session.execute(insert.on_conflict_do_nothing(index_elements=["run_key"]))
    run_id = await session.scalar(
        select(CrmSyncRun.id).where(CrmSyncRun.run_key == run_key, CrmSyncRun.org_id == org_id)
    )
    assert run_id is not None
    return run_id


async def add_failure(
    session: AsyncSession, *, org_id: int, run_id: int, error: str, emails: Sequence[str]
) -> None:
    """List a batch given up on: its error and the people it held (not marked as pushed, so
    the next run sends them again)."""
    run = await session.get(CrmSyncRun, run_id, with_for_update=True)
    if run is None or run.org_id != org_id:
        return
    entry = {"error": error, "count": len(emails), "emails": list(emails[:FAILURE_EMAILS])}
    if entry not in run.failures:  # a retried activity lists it once
        run.failures = [*run.failures, entry]
    await session.flush()


async def close_run(
    session: AsyncSession,
    *,
    org_id: int,
    run_id: int,
    profiles: int,
    failed: int,
    error: str,
) -> CrmSyncRun:
    """Settle the counts: `written` is what this run recorded as pushed (exact across
    retried batches), `unchanged` the rest that did not fail."""
    run = await session.get(CrmSyncRun, run_id)
    assert run is not None and run.org_id == org_id
    written = await session.scalar(
        select(func.count())
        .select_from(CrmRecordState)
        .where(CrmRecordState.org_id == org_id, CrmRecordState.run_id == run_id)
    )
    run.profiles, run.failed, run.error = profiles, failed, error
    run.written = int(written or 0)
    run.unchanged = max(0, profiles - run.written - failed)
    run.status = "failed" if error else ("partial" if failed else "done")
    run.finished_at = utcnow()
    await session.execute(
        update(OrgCrmConnector)
        .where(OrgCrmConnector.org_id == org_id)
        .values(last_run_at=run.finished_at)
    )
    await session.flush()
    return run


async def recent_runs(session: AsyncSession, *, org_id: int, limit: int = 10) -> list[CrmSyncRun]:
    rows = await session.scalars(
        select(CrmSyncRun)
        .where(CrmSyncRun.org_id == org_id)
        .order_by(CrmSyncRun.started_at.desc(), CrmSyncRun.id.desc())
        .limit(limit)
    )
    return list(rows)
