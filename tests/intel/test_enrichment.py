"""Enrichment end to end: a fake provider over HTTP, a real Temporal dev server, PostgreSQL.

Guests come from the Luma simulator through the real sync; the enrichment workflow runs on
its own worker whose provider URLs point at the local fake, which answers known people,
unknown ones, and 429s with Retry-After.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from temporalio.worker import Replayer

from activities.enrichment import EnrichmentConfig
from activities.luma_access import LumaAccess
from core.settings import Settings
from intel.enrichment import store as enrichment_store
from services.automations import Automations, JobDefaults
from standins.enrichment import FakeProvider, Known, running_fake_provider
from store.models import EnrichmentCacheEntry, Guest, GuestProfile, OrgEnrichment, utcnow
from store.orgs import save_org
from tests.conftest import DATA_CONVERTER
from tests.workflows.conftest import org, pool, simulator  # noqa: F401
from tests.workflows.payloads import decrypted, stored_bytes
from worker import WORKFLOWS, WorkerClients, build_worker
from workflows.contracts.enrichment import EnrichReport

SENIORITIES = ("director", "cxo", "vp", "senior")


@dataclass
class Env:
    automations: Automations
    fake: FakeProvider
    org_id: int
    people: dict[str, str]  # lookup email -> normalized email
    known: set[str]  # lookup emails the provider knows


async def people_of(sessions, org_id: int) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(
            select(func.min(Guest.email), Guest.normalized_email)
            .where(Guest.org_id == org_id, Guest.gone_at.is_(None))
            .group_by(Guest.normalized_email)
        )
        return {email: key for email, key in rows}


@pytest.fixture
async def env(temporal_env, sessions, keybox, pool, simulator, org) -> AsyncIterator[Env]:  # noqa: F811
    simulator.state.add_event(org.calendar_id, name="Past Mixer", guests=14, repeat_share=0)
    async with running_fake_provider() as fake:
        config = replace(
            EnrichmentConfig.from_settings(Settings(_env_file=None)),
            base_urls={"pdl": fake.url, "apollo": fake.url},
            ttl=timedelta(days=1),
            concurrency=3,
            max_wait_seconds=1.5,
        )
        defaults = JobDefaults(task_queue=f"enrich-{uuid.uuid4().hex}")
        clients = WorkerClients(
            sessions=sessions,
            luma=LumaAccess(sessions, keybox, pool),
            bot=None,
            enrichment=config,
        )
        automations = Automations(temporal_env.client, defaults)
        async with build_worker(temporal_env.client, defaults.task_queue, clients):
            await (await automations.sync_now(org.org_id)).result()
            people = await people_of(sessions, org.org_id)
            known = set(sorted(people)[::2])
            for index, email in enumerate(sorted(known)):
                fake.people[email.lower()] = Known(
                    f"Company {index}", f"Title {index}", SENIORITIES[index % len(SENIORITIES)]
                )
            yield Env(automations, fake, org.org_id, people, known)


async def turn_on(
    sessions, keybox, env: Env, provider: str = "pdl", key: str | None = None
) -> None:
    async with sessions.begin() as session:
        await enrichment_store.save_provider(
            session,
            org_id=env.org_id,
            provider=provider,
            api_key=key or env.fake.api_key,
            keybox=keybox,
            user_id=None,
        )


async def run(env: Env) -> EnrichReport:
    handle = await env.automations.start_enrichment(env.org_id)
    return await handle.result()


async def profiles(sessions, org_id: int) -> dict[str, GuestProfile]:
    async with sessions() as session:
        rows = await session.scalars(select(GuestProfile).where(GuestProfile.org_id == org_id))
        return {p.normalized_email: p for p in rows}


@pytest.mark.parametrize("provider", ["pdl", "apollo"])
async def test_enriches_every_person_once_through_429s(
    sessions, keybox, env: Env, provider
) -> None:
    await turn_on(sessions, keybox, env, provider)
    env.fake.throttle_next = 3  # Retry-After: 1 s, waited out inside the batch

    report = await run(env)

    answered = [c.email for c in env.fake.calls if c.status != 429]
    assert sorted(answered) == sorted(env.people)  # each person asked exactly once
    assert len([c for c in env.fake.calls if c.status == 429]) == 3
    assert {c.style for c in env.fake.calls} == {provider}
    assert (report.people, report.looked_up, report.found, report.from_cache) == (
        len(env.people),
        len(env.people),
        len(env.known),
        0,
    )
    stored = await profiles(sessions, env.org_id)
    for email, key in env.people.items():
        profile = stored[key]
        if email in env.known:
            expected = env.fake.people[email.lower()]
            assert profile.enriched_company == expected.company
            assert profile.enriched_title == expected.title
            wanted = "c_suite" if expected.seniority == "cxo" else expected.seniority
            assert profile.seniority == wanted
            assert profile.enriched_at is not None
        else:
            assert (profile.enriched_company, profile.seniority, profile.enriched_at) == (
                None,
                None,
                None,
            )


async def test_cache_time_to_live(sessions, keybox, env: Env) -> None:
    await turn_on(sessions, keybox, env)
    await run(env)
    first_calls = len(env.fake.calls)

    again = await run(env)
    assert len(env.fake.calls) == first_calls  # everything answered from the cache
    assert (again.looked_up, again.from_cache) == (0, len(env.people))

    expired = sorted(env.people)[:3]
    async with sessions.begin() as session:
        await session.execute(
            update(EnrichmentCacheEntry)
            .where(
                EnrichmentCacheEntry.org_id == env.org_id,
                EnrichmentCacheEntry.normalized_email.in_([env.people[e] for e in expired]),
            )
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    third = await run(env)
    assert sorted(c.email for c in env.fake.calls[first_calls:]) == expired
    assert (third.looked_up, third.from_cache) == (3, len(env.people) - 3)


async def test_long_retry_after_is_waited_by_temporal(sessions, keybox, env: Env) -> None:
    """A Retry-After above the inline limit ends the attempt; Temporal retries after it,
    and what was answered before is not asked again."""
    await turn_on(sessions, keybox, env)
    env.fake.retry_after = "2"  # above max_wait_seconds=1.5
    env.fake.throttle_next = 1

    report = await run(env)

    answered = [c.email for c in env.fake.calls if c.status != 429]
    assert sorted(answered) == sorted(env.people)
    # Answers saved by the refused attempt count as cached in the retry that finished.
    assert report.looked_up + report.from_cache == len(env.people) and report.error == ""


async def test_key_encrypted_at_rest_absent_from_history_which_replays(
    sessions, keybox, env: Env
) -> None:
    await turn_on(sessions, keybox, env)
    handle = await env.automations.start_enrichment(env.org_id)
    await handle.result()

    async with sessions() as session:
        row = await session.get(OrgEnrichment, env.org_id)
    assert row is not None and env.fake.api_key.encode() not in row.key_ciphertext
    assert keybox.decrypt(row.key_ciphertext) == env.fake.api_key
    assert row.key_fingerprint == "…" + env.fake.api_key[-4:]
    assert row.last_run_at is not None
    history = await handle.fetch_history()
    codec = DATA_CONVERTER.payload_codec
    assert codec is not None
    # Decrypted: the key must be absent from what the workflow carries, not just hidden.
    assert env.fake.api_key.encode() not in stored_bytes(await decrypted(history, codec))
    replayed = await Replayer(
        workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None  # deterministic
    assert {c.key for c in env.fake.calls} == {env.fake.api_key}


async def test_refused_key_stops_the_run_with_a_reason(sessions, keybox, env: Env) -> None:
    await turn_on(sessions, keybox, env, "apollo", key="wrong-key-1234")

    report = await run(env)

    assert "apollo refused the enrichment key (HTTP 401)" in report.error
    assert len(env.fake.calls) <= 3  # the lookups in flight, never retried
    assert (await enrichment_store_counts(sessions, env.org_id)) == 0


async def test_off_by_default_and_when_switched_off(sessions, keybox, env: Env) -> None:
    assert (await run(env)).enabled is False
    await turn_on(sessions, keybox, env)
    async with sessions.begin() as session:
        await enrichment_store.set_enabled(session, org_id=env.org_id, enabled=False, user_id=1)
    assert (await run(env)).enabled is False
    assert env.fake.calls == []


async def enrichment_store_counts(sessions, org_id: int) -> int:
    async with sessions() as session:
        return (await enrichment_store.cache_stats(session, org_id=org_id)).cached


async def test_another_orgs_same_person_is_not_touched(sessions, keybox, env: Env) -> None:
    email = sorted(env.known)[0]
    async with sessions.begin() as session:
        other = await save_org(
            session,
            calendar_id=f"cal-other-{uuid.uuid4().hex[:8]}",
            name="Other",
            luma_key="other-luma-key-0000",
            keybox=keybox,
        )
        session.add(GuestProfile(org_id=other.id, normalized_email=env.people[email]))
    await turn_on(sessions, keybox, env)

    await run(env)

    theirs = (await profiles(sessions, other.id))[env.people[email]]
    assert (theirs.enriched_company, theirs.seniority, theirs.enriched_at) == (None, None, None)
    assert (await profiles(sessions, env.org_id))[env.people[email]].enriched_at is not None
    async with sessions() as session:
        stats = await enrichment_store.cache_stats(session, org_id=other.id)
    assert stats.cached == 0
