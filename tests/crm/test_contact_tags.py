"""Our tags pushed to Luma as contact tags after a CRM run, when the org's connector says so.

The Luma side is the simulator over HTTP (its contact tags and who carries each are its
state), the CRM side the Airtable stand-in, the run a real `CrmSyncWorkflow` on its own worker.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import insert
from temporalio.worker import Replayer

from activities.luma_access import LumaAccess
from core.settings import Settings
from crm.base import ConnectorConfig
from crm.connectors import CrmConfig
from luma import LumaPool
from luma.emails import identity_key
from services import crm
from services.automations import Automations, JobDefaults
from services.caller import Caller
from services.crm import CrmSettings
from standins.airtable import running_fake_airtable
from standins.crm_limits import CrmLimits, CrmLog
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from standins.luma.contact_tags import tags_of
from store.models import GuestProfile, GuestTag, Role
from store.orgs import save_org
from tests.conftest import DATA_CONVERTER
from worker import WORKFLOWS, WorkerClients, build_worker
from workflows.contracts.crm import CrmReport

pytestmark = pytest.mark.timeout(120)


@dataclass
class Env:
    automations: Automations
    airtable: CrmLog
    sim: RunningSimulator


@pytest.fixture
async def env(temporal_env, sessions, keybox) -> AsyncIterator[Env]:
    seed = uuid.uuid4().int % 10**9
    config = SimulatorConfig(seed=seed, calendars=0, rate_limit=None)
    async with (
        running_simulator(config) as sim,
        LumaPool(sim.base_url, max_retries=0) as pool,
        running_fake_airtable() as airtable,
    ):
        airtable.limits = CrmLimits(requests_per_window=5, window=0.1)
        service = ConnectorConfig(airtable.url, 50, rate_limit_wait=0.05)
        crm_config = dataclasses.replace(
            CrmConfig.from_settings(Settings(_env_file=None)), services={"airtable": service}
        )
        defaults = JobDefaults(task_queue=f"crm-tags-{uuid.uuid4().hex}")
        clients = WorkerClients(
            sessions=sessions, luma=LumaAccess(sessions, keybox, pool), bot=None, crm=crm_config
        )
        automations = Automations(temporal_env.client, defaults)
        async with build_worker(temporal_env.client, defaults.task_queue, clients):
            yield Env(automations, airtable, sim)


@dataclass
class Org:
    org_id: int
    calendar_id: str
    contacts: list[str]  # emails of the calendar's contacts, as Luma has them


async def linked_org(env: Env, sessions, keybox, *, push_tags: bool) -> Org:
    calendar = env.sim.state.add_calendar(f"Tags {uuid.uuid4().hex[:6]}")
    env.sim.state.add_event(calendar.id, guests=12)
    contacts = [
        person.email
        for person in env.sim.state.calendar(calendar.id).people
        if identity_key(person.email) == person.email  # their key is their address
    ][:4]
    assert len(contacts) == 4
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=calendar.id,
            name=calendar.id,
            luma_key=calendar.api_key,
            keybox=keybox,
        )
        org_id = org.id
    async with sessions.begin() as session:
        await crm.configure(
            Caller(org_id, Role.ADMIN, "web", user_id=None),
            session,
            automations=env.automations,
            keybox=keybox,
            form=CrmSettings(
                kind="airtable",
                token=env.airtable.token,
                base_id="appTESTBASE000001",
                table="Guests",
                luma_contact_tags=push_tags,
            ),
        )
    return Org(org_id, calendar.id, contacts)


async def tag(sessions, org_id: int, tags: dict[str, list[str]]) -> None:
    people = {email for emails in tags.values() for email in emails}
    async with sessions.begin() as session:
        await session.execute(
            insert(GuestProfile),
            [{"org_id": org_id, "normalized_email": email, "name": email} for email in people],
        )
        for name, emails in tags.items():
            for email in emails:
                session.add(GuestTag(org_id=org_id, normalized_email=email, tag=name))


async def sync(env: Env, org_id: int) -> CrmReport:
    handle = await env.automations.start_crm_sync(org_id)
    report = await handle.result()
    assert isinstance(report, CrmReport)
    history = await handle.fetch_history()
    replayed = await Replayer(
        workflows=list(WORKFLOWS), data_converter=DATA_CONVERTER
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    return report


def luma_tags(env: Env, calendar_id: str) -> dict[str, set[str]]:
    calendar = env.sim.state.calendar(calendar_id)
    return {found.name: set(found.emails) for found in tags_of(env.sim.state, calendar)}


async def test_our_tags_become_contact_tags_of_exactly_the_people_carrying_them(
    env: Env, sessions, keybox
) -> None:
    org = await linked_org(env, sessions, keybox, push_tags=True)
    ann, bo, cy, _ = org.contacts
    stranger = f"stranger.{uuid.uuid4().hex[:6]}@example.com"  # not a contact of the calendar
    await tag(sessions, org.org_id, {"vip": [ann, bo, stranger], "speaker": [bo, cy]})
    state = env.sim.state

    report = await sync(env, org.org_id)
    assert report.written == 4  # the CRM run itself is unchanged
    assert luma_tags(env, org.calendar_id) == {"vip": {ann, bo}, "speaker": {bo, cy}}
    assert [(s.calendar_id, s.email) for s in state.skipped_taggings] == [
        (org.calendar_id, stranger)
    ]  # skipped, and no contact made for them
    assert stranger not in state.calendar(org.calendar_id).people_by_email
    assert state.counters["op:contact_tags_create"] == 2

    async with sessions.begin() as session:
        session.add(GuestTag(org_id=org.org_id, normalized_email=ann, tag="speaker"))
    await sync(env, org.org_id)
    assert state.counters["op:contact_tags_create"] == 2  # no new tag made
    assert luma_tags(env, org.calendar_id) == {"vip": {ann, bo}, "speaker": {ann, bo, cy}}
    assert len(state.contact_tags) == 2


async def test_nothing_goes_to_luma_when_the_setting_is_off(env: Env, sessions, keybox) -> None:
    org = await linked_org(env, sessions, keybox, push_tags=False)
    await tag(sessions, org.org_id, {"vip": org.contacts[:2]})

    report = await sync(env, org.org_id)
    assert report.written == 2
    assert env.sim.state.contact_tags == {}
    assert not any(key.startswith("op:contact_tags") for key in env.sim.state.counters)
