"""CRM sync end to end: stand-in Airtable and HubSpot over HTTP, a real Temporal dev server,
PostgreSQL.

Profiles are seeded in the database for the org; the sync workflow runs on its own worker
whose connector URLs point at the stand-ins, which enforce the services' limits (records a
request, requests a second, 429s) and record every record written. Judged by that log: each
person written once, a second run writes only what changed, a 429 storm loses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import insert, select, update
from temporalio.worker import Replayer

from activities.luma_access import LumaAccess
from core.settings import Settings
from crm.base import ConnectorConfig
from crm.connectors import CrmConfig
from luma import LumaPool
from services import crm
from services.automations import Automations, JobDefaults
from services.caller import Caller
from services.crm import CrmSettings
from standins.airtable import running_fake_airtable
from standins.crm_limits import CrmLimits, CrmLog
from standins.hubspot import FakeHubSpot, running_fake_hubspot
from store.models import CrmRecordState, CrmSyncRun, GuestProfile, GuestTag, OrgCrmConnector, Role
from store.orgs import save_org
from tests.conftest import DATA_CONVERTER
from tests.workflows.payloads import decrypted, stored_bytes
from worker import WORKFLOWS, WorkerClients, build_worker
from workflows.contracts.crm import CrmReport

BASE_ID = "appTESTBASE000001"
KINDS = ("airtable", "hubspot")
pytestmark = pytest.mark.timeout(180)


@dataclass
class Env:
    automations: Automations
    fake: CrmLog
    kind: str


def fast(fake: CrmLog) -> CrmLimits:
    """The service's limit on a tenth of a second, so 2,000 people take seconds, not
    minutes (the stand-in enforces it exactly as the published one)."""
    return CrmLimits(requests_per_window=fake.limits.requests_per_window, window=0.1)


@asynccontextmanager
async def stand_in(kind: str) -> AsyncIterator[CrmLog]:
    if kind == "airtable":
        async with running_fake_airtable() as airtable:
            yield airtable
    else:
        hubspot = FakeHubSpot(retry_after="0")
        hubspot.properties |= {"lumabot_events", "lumabot_vip", "lumabot_tags"}
        async with running_fake_hubspot(hubspot) as running:
            yield running


@pytest.fixture(params=KINDS)
async def env(request, temporal_env, sessions, keybox) -> AsyncIterator[Env]:
    kind: str = request.param
    async with stand_in(kind) as fake, LumaPool("http://127.0.0.1:9") as unused_luma:
        fake.limits = fast(fake)
        per_second = fake.limits.requests_per_window / fake.limits.window
        service = ConnectorConfig(fake.url, per_second, rate_limit_wait=0.05)
        config = dataclasses.replace(
            CrmConfig.from_settings(Settings(_env_file=None)), services={kind: service}
        )
        defaults = JobDefaults(task_queue=f"crm-{uuid.uuid4().hex}")
        clients = WorkerClients(
            sessions=sessions,
            luma=LumaAccess(sessions, keybox, unused_luma),
            bot=None,
            crm=config,
        )
        automations = Automations(temporal_env.client, defaults)
        async with build_worker(temporal_env.client, defaults.task_queue, clients):
            yield Env(automations, fake, kind)


async def new_org(sessions, keybox, name: str = "CRM") -> int:
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=f"cal-{uuid.uuid4().hex[:12]}",
            name=f"{name} {uuid.uuid4().hex[:6]}",
            luma_key=f"secret-{uuid.uuid4().hex}",
            keybox=keybox,
        )
        return org.id


def emails(count: int, tag: str = "") -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"person{n:05d}.{tag}{run}@example.com" for n in range(count)]


async def seed_profiles(sessions, org_id: int, addresses: list[str]) -> None:
    rows = [
        {
            "org_id": org_id,
            "normalized_email": address,
            "name": f"Person {n}",
            "company": f"Company {n % 17}",
            "events_registered": n % 4,
            "events_attended": n % 3,
            "no_shows": n % 2,
        }
        for n, address in enumerate(addresses)
    ]
    async with sessions.begin() as session:
        await session.execute(insert(GuestProfile), rows)


def field_map(kind: str) -> dict[str, str] | None:
    if kind == "airtable":
        return None  # the default: our labels as column names
    return {
        "name": "firstname lastname",
        "email": "email",
        "company": "company",
        "title": "jobtitle",
        "events_attended": "lumabot_events",
        "vip_score": "lumabot_vip",
        "tags": "lumabot_tags",
    }


def admin(org_id: int) -> Caller:
    return Caller(org_id, Role.ADMIN, "web", user_id=None)


async def connect(env: Env, sessions, keybox, org_id: int, table: str = "Guests") -> None:
    async with sessions.begin() as session:
        await crm.configure(
            admin(org_id),
            session,
            automations=env.automations,
            keybox=keybox,
            form=CrmSettings(
                kind=env.kind,
                token=env.fake.token,
                base_id=BASE_ID,
                table=table,
                portal_id="12345",
                field_map=field_map(env.kind),
            ),
        )


async def sync(env: Env, org_id: int) -> CrmReport:
    handle = await env.automations.start_crm_sync(org_id)
    report = await handle.result()
    assert isinstance(report, CrmReport)
    return report


def max_records(kind: str) -> int:
    return 10 if kind == "airtable" else 100


async def test_2000_profiles_each_written_once_then_only_what_changed(
    sessions, keybox, env: Env
) -> None:
    org_id = await new_org(sessions, keybox)
    people = emails(2000)
    await seed_profiles(sessions, org_id, people)
    await connect(env, sessions, keybox, org_id)

    first = await sync(env, org_id)
    assert env.fake.written() == {email: 1 for email in people}
    assert (first.profiles, first.written, first.unchanged, first.failed) == (2000, 2000, 0, 0)
    accepted = [a for a in env.fake.answers if a.status == 200]
    assert all(a.records <= max_records(env.kind) for a in env.fake.answers)
    assert len(accepted) == 2000 // max_records(env.kind)  # full requests, no resends

    changed = people[10:15]
    async with sessions.begin() as session:
        await session.execute(
            update(GuestProfile)
            .where(GuestProfile.org_id == org_id, GuestProfile.normalized_email.in_(changed))
            .values(events_attended=GuestProfile.events_attended + 1)
        )
        session.add(GuestTag(org_id=org_id, normalized_email=people[1500], tag="speaker"))
    newcomer = f"newcomer.{uuid.uuid4().hex[:6]}@example.com"
    await seed_profiles(sessions, org_id, [newcomer])
    env.fake.writes.clear()

    second = await sync(env, org_id)
    due = {*changed, people[1500], newcomer}
    assert env.fake.written() == {email: 1 for email in due}
    assert (second.profiles, second.written, second.unchanged) == (2001, 7, 1994)
    tagged = [w for w in env.fake.writes if w.email == people[1500]]
    tags_field = "Tags" if env.kind == "airtable" else "lumabot_tags"
    assert tagged[0].fields[tags_field] == "speaker"

    env.fake.writes.clear()
    third = await sync(env, org_id)
    assert env.fake.writes == [] and third.written == 0 and third.unchanged == 2001

    async with sessions() as session:
        runs = (
            await session.scalars(
                select(CrmSyncRun).where(CrmSyncRun.org_id == org_id).order_by(CrmSyncRun.id)
            )
        ).all()
    assert [(r.status, r.written, r.failed) for r in runs] == [
        ("done", 2000, 0),
        ("done", 7, 0),
        ("done", 0, 0),
    ]


async def test_a_429_storm_slows_the_run_and_loses_nothing(
    sessions, keybox, env: Env, caplog
) -> None:
    org_id = await new_org(sessions, keybox)
    people = emails(300)
    await seed_profiles(sessions, org_id, people)
    await connect(env, sessions, keybox, org_id)
    env.fake.limits.throttle_next = 25

    with caplog.at_level(logging.DEBUG):
        handle = await env.automations.start_crm_sync(org_id)
        report = await handle.result()

    assert env.fake.statuses(429) >= 25
    assert env.fake.written() == {email: 1 for email in people}
    assert (report.written, report.failed) == (300, 0)
    # The token: encrypted at rest, never in the workflow's history nor in our logs.
    token = env.fake.token
    async with sessions() as session:
        row = await session.get(OrgCrmConnector, org_id)
    assert row is not None and token.encode() not in row.token_ciphertext
    assert row.token_fingerprint == "…" + token[-4:]
    codec = DATA_CONVERTER.payload_codec
    assert codec is not None
    history = await handle.fetch_history()
    assert token.encode() not in stored_bytes(await decrypted(history, codec))
    assert token not in caplog.text
    replayed = await Replayer(
        workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None


async def test_a_refused_batch_is_listed_the_run_goes_on_and_the_next_run_sends_it(
    sessions, keybox, env: Env
) -> None:
    org_id = await new_org(sessions, keybox)
    people = emails(250)
    await seed_profiles(sessions, org_id, people)
    await connect(env, sessions, keybox, org_id)
    bad = people[120]
    env.fake.refuse_emails.add(bad)

    first = await sync(env, org_id)
    written = env.fake.written()
    assert bad not in written and all(count == 1 for count in written.values())
    assert first.failed == 250 - len(written) > 0 and first.written == len(written)
    async with sessions() as session:
        run = await session.scalar(select(CrmSyncRun).where(CrmSyncRun.org_id == org_id))
    assert run is not None and run.status == "partial"
    (failure,) = run.failures
    assert bad in failure["emails"] or failure["count"] > len(failure["emails"])
    assert failure["count"] == first.failed and "refused" in failure["error"]

    env.fake.refuse_emails.clear()
    env.fake.writes.clear()
    second = await sync(env, org_id)
    assert set(env.fake.written()) == set(people) - set(written)
    assert second.written == first.failed and second.failed == 0


async def test_a_run_reads_only_its_own_orgs_profiles(sessions, keybox, env: Env) -> None:
    mine, theirs = (
        await new_org(sessions, keybox, "Mine"),
        await new_org(sessions, keybox, "Theirs"),
    )
    my_people, their_people = emails(40, "m"), emails(40, "t")
    await seed_profiles(sessions, mine, my_people)
    await seed_profiles(sessions, theirs, their_people)
    await connect(env, sessions, keybox, mine, table="Mine")
    await connect(env, sessions, keybox, theirs, table="Theirs")

    report = await sync(env, mine)
    assert set(env.fake.written()) == set(my_people) and report.profiles == 40
    async with sessions() as session:
        states = await session.scalars(
            select(CrmRecordState.normalized_email).where(CrmRecordState.org_id == theirs)
        )
        assert states.all() == []
