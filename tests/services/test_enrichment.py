"""Enrichment through `services.enrichment`: admins only, on a plan with it; the key stored
encrypted and never in the audit log; on, run and off each move the schedule and the run once.

The runs start on a task queue no worker polls, so a run stays running (no provider is ever
called), which is what a run in progress looks like to the next request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services import enrichment
from services.automations import Automations, JobDefaults
from services.caller import Conflict, Forbidden, Invalid, PlanLimit
from store.models import OrgEnrichment, Role
from tests.conftest import eventually
from tests.services.conftest import audit_rows, caller
from workflows import ids

KEY = "pdl-secret-key-5f3a9c1e7d"


@pytest.fixture
async def idle(temporal_env) -> AsyncIterator[Automations]:
    automations = Automations(temporal_env.client, JobDefaults(task_queue=f"idle-{uuid.uuid4()}"))
    yield automations


async def _cleanup(automations: Automations, org_id: int) -> None:
    await automations.set_enrichment_schedule(org_id, False)
    query = f"OrgId = '{org_id}' AND Kind = 'enrich' AND ExecutionStatus = 'Running'"
    async for run in automations.client.list_workflows(query):
        await automations.handle(run.id).terminate("test over")


async def _settings(sessions, org_id: int) -> OrgEnrichment | None:
    async with sessions() as session:
        return await session.get(OrgEnrichment, org_id)


async def test_a_member_is_refused_and_nothing_changes(
    sessions, org, idle, keybox, billing
) -> None:
    member = await caller(sessions, org.org_id, Role.MEMBER, chat_id=-42)
    async with sessions() as session:
        with pytest.raises(Forbidden):
            await enrichment.turn_on_with_key(
                member,
                session,
                billing=billing,
                automations=idle,
                keybox=keybox,
                provider="pdl",
                key=KEY,
            )
        with pytest.raises(Forbidden):
            await enrichment.turn_on(member, session, billing=billing, automations=idle)
        with pytest.raises(Forbidden):
            await enrichment.run_enrichment(member, session, automations=idle, billing=billing)
        with pytest.raises(Forbidden):
            await enrichment.turn_off(member, session, automations=idle)
        assert (await enrichment.status(member, session)).settings is None  # members read
    assert await _settings(sessions, org.org_id) is None
    assert not await idle.schedule_exists(ids.enrich_schedule_id(org.org_id))
    assert await audit_rows(sessions, org.org_id) == []


async def test_over_the_plan_is_a_plan_limit_and_nothing_changes(
    sessions, org, idle, keybox, free
) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN, chat_id=-42)
    async with sessions() as session:
        with pytest.raises(PlanLimit) as refused:
            await enrichment.turn_on_with_key(
                admin,
                session,
                billing=free,
                automations=idle,
                keybox=keybox,
                provider="pdl",
                key=KEY,
            )
        assert refused.value.limit == "enrichment" and refused.value.status == 403
        assert "Free plan does not include enrichment" in refused.value.message
        with pytest.raises(PlanLimit):
            await enrichment.turn_on(admin, session, billing=free, automations=idle)
        with pytest.raises(PlanLimit):
            await enrichment.run_enrichment(admin, session, automations=idle, billing=free)
    assert await _settings(sessions, org.org_id) is None
    assert not await idle.schedule_exists(ids.enrich_schedule_id(org.org_id))
    assert await audit_rows(sessions, org.org_id) == []


async def test_bad_provider_or_no_provider_changes_nothing(
    sessions, org, idle, keybox, billing
) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN, chat_id=-42)
    async with sessions() as session:
        with pytest.raises(Invalid) as unknown:
            await enrichment.turn_on_with_key(
                admin,
                session,
                billing=billing,
                automations=idle,
                keybox=keybox,
                provider="<clearbit>",
                key=KEY,
            )
        assert unknown.value.message.startswith("I do not know the provider “&lt;clearbit&gt;”")
        with pytest.raises(Conflict) as none_set:
            await enrichment.turn_on(admin, session, billing=billing, automations=idle)
        assert none_set.value.message == enrichment.NO_PROVIDER
        with pytest.raises(Conflict) as off:
            await enrichment.run_enrichment(admin, session, automations=idle, billing=billing)
        assert off.value.message == enrichment.ENRICHMENT_OFF
        assert await enrichment.turn_off(admin, session, automations=idle) is None
    assert await _settings(sessions, org.org_id) is None
    assert await audit_rows(sessions, org.org_id) == []


async def test_on_run_off_each_audited_once_and_the_key_never_shown(
    sessions, org, idle, keybox, billing
) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN, chat_id=-42)
    try:
        async with sessions() as session:
            turned = await enrichment.turn_on_with_key(
                admin,
                session,
                billing=billing,
                automations=idle,
                keybox=keybox,
                provider=" PDL ",
                key=KEY,
            )
        assert turned.settings.provider == "pdl" and turned.settings.enabled
        assert turned.run.handle.id == ids.enrich_id(org.org_id) and not turned.run.scheduled
        assert await idle.schedule_exists(ids.enrich_schedule_id(org.org_id))
        stored = await _settings(sessions, org.org_id)
        assert stored is not None and KEY.encode() not in stored.key_ciphertext
        assert keybox.decrypt(stored.key_ciphertext) == KEY
        assert stored.key_fingerprint == turned.settings.key_fingerprint != KEY

        async with sessions() as session:  # a second request joins the run going
            run = await enrichment.run_enrichment(admin, session, automations=idle, billing=billing)
            shown = await enrichment.status(admin, session)
        assert run.handle.id == turned.run.handle.id and not run.scheduled
        assert shown.settings is not None and shown.stats is not None
        assert shown.settings.key_fingerprint == stored.key_fingerprint

        async with sessions() as session:
            assert await enrichment.turn_off(admin, session, automations=idle) is not None
            await session.commit()
        assert not await idle.schedule_exists(ids.enrich_schedule_id(org.org_id))
        off = await _settings(sessions, org.org_id)
        assert off is not None and not off.enabled  # the key stays stored

        async with sessions() as session:
            again = await enrichment.turn_on(admin, session, billing=billing, automations=idle)
        assert again.settings.enabled and again.run.handle.id == ids.enrich_id(org.org_id)
    finally:
        await _cleanup(idle, org.org_id)

    entries = await audit_rows(sessions, org.org_id)
    assert [entry.action for entry in entries] == ["enrich_on", "enrich_off", "enrich_on"]
    for entry in entries:
        assert entry.source == "bot" and entry.chat_id == -42
        assert entry.actor_user_id == admin.user_id
        assert KEY not in str(entry.target) and KEY not in (entry.detail or "")
    assert entries[0].target == {"provider": "pdl", "key": stored.key_fingerprint}


async def test_run_joins_the_scheduled_run(sessions, org, idle, keybox, billing) -> None:
    admin = await caller(sessions, org.org_id, Role.ADMIN, chat_id=-42)
    try:
        async with sessions() as session:
            turned = await enrichment.turn_on_with_key(
                admin,
                session,
                billing=billing,
                automations=idle,
                keybox=keybox,
                provider="pdl",
                key=KEY,
            )
        await idle.handle(turned.run.handle.id).terminate("make way for the schedule's run")
        schedule_id = ids.enrich_schedule_id(org.org_id)
        await idle.client.get_schedule_handle(schedule_id).trigger()
        scheduled = await eventually(lambda: idle.running_scheduled(schedule_id))
        async with sessions() as session:
            run = await enrichment.run_enrichment(admin, session, automations=idle, billing=billing)
        assert run.scheduled and run.handle.id == scheduled.id != ids.enrich_id(org.org_id)
    finally:
        await _cleanup(idle, org.org_id)
