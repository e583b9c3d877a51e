"""Guest data never reaches Temporal in clear (`core.payload_codec`).

Real workflows carrying guest data run on a worker: a bulk job filtered by guests' emails, a
follow-up campaign with its body, a daily digest naming an event. Their histories are then
read back as the server stores them, through a client without the codec (what anyone with
access to Temporal's database, CLI or UI sees): no email, name, event name or message body
appears in the bytes. The same histories decrypted with the product's key do hold them, so
the scan looks where the data is; and the product's client still reads every result.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter

from catalog.guest_filter import GuestFilter
from core.payload_codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError, data_converter
from services.automations import Automations
from store import orgs
from tests.conftest import DATA_CONVERTER
from tests.followups.conftest import (  # noqa: F401  (inbox, signer, smtp_setup: fixtures)
    GUESTS,
    campaign,
    inbox,
    seed_event,
    signer,
    smtp_setup,
)
from tests.workflows.conftest import worker_clients
from tests.workflows.payloads import decrypted, stored_bytes
from worker import build_worker
from workflows.contracts.bulk import BulkReport
from workflows.contracts.digest import DigestOutcome
from workflows.contracts.followups import FollowupReport
from workflows.followups import FollowupWorkflow


@pytest.fixture
async def automations(temporal_env, sessions, keybox, pool, job_defaults, smtp_setup):  # noqa: F811
    """A worker with Luma (the simulator) and mail (the local SMTP server)."""
    clients = replace(worker_clients(sessions, keybox, pool), mail=smtp_setup)
    async with build_worker(temporal_env.client, job_defaults.task_queue, clients):
        yield Automations(temporal_env.client, job_defaults)


def without_codec(client: Client) -> Client:
    """The same server and namespace, read with the default converter: no key."""
    config = client.config()
    config["data_converter"] = DataConverter.default
    return Client(**config)


async def as_stored(client: Client, workflow_id: str) -> bytes:
    """The run's history and description, byte for byte as the server hands them out."""
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    description = await handle.describe()
    return stored_bytes(history) + description.raw_description.SerializeToString()


async def test_histories_hold_no_guest_data_in_clear(
    automations: Automations,
    simulator,
    org,
    sessions,
    keybox,
    inbox,  # noqa: F811
) -> None:
    unique = uuid.uuid4().hex[:8]
    chat_id = -(10**13) - org.org_id
    async with sessions.begin() as session:
        await orgs.link_chat(
            session, chat_id=chat_id, org_id=org.org_id, kind="group", title="Team", linked_by=1
        )
    event_name = f"Private Gala {unique}"
    event_id = simulator.state.add_event(
        org.calendar_id,
        name=event_name,
        start_at=datetime.now(UTC) + timedelta(days=1),
        guests=12,
        status_mix={"pending_approval": 1.0},
    )
    await (await automations.sync_now(org.org_id)).result()
    chosen = list(simulator.state.event(event_id).guests.values())[:5]
    emails = [guest.person.email for guest in chosen]

    # A bulk job whose filter lists guests by email.
    bulk = await automations.start_bulk(
        org_id=org.org_id,
        event_id=event_id,
        target_status="approved",
        guest_filter=GuestFilter(emails=emails),
        chat_id=chat_id,
        event_name=event_name,
    )
    report: BulkReport = await automations.bulk_handle(bulk.workflow_id).result()
    assert (report.total, report.done) == (5, 5)

    # A daily digest, whose text names the org's events.
    digest = await automations.send_digest_now(chat_id=chat_id, org_id=org.org_id)
    outcome: DigestOutcome = await digest.result()
    assert event_name in outcome.text

    # A follow-up campaign with its body; a refused address ends up in its report.
    seeded = await seed_event(sessions, keybox, name=f"Demo Night {unique}")
    inbox.refuse.add("grace@example.com")
    secret = f"swordfish-{unique}"
    job = campaign(seeded, "all", body=f"Hi {{first_name}},\n\nThe password is {secret}.")
    started = await automations.start_followup(job)
    followup = automations.client.get_workflow_handle_for(FollowupWorkflow.run, started.workflow_id)
    sent: FollowupReport = await followup.result()
    assert "grace@example.com" in sent.text and len(inbox.messages) >= 1

    workflow_ids = [bulk.workflow_id, digest.id, started.workflow_id]
    plain = without_codec(automations.client)
    stored = b"".join([await as_stored(plain, workflow_id) for workflow_id in workflow_ids])
    assert stored.count(ENCODING) >= 3  # the payloads are there, encrypted

    carried = [*emails, event_name, secret, "grace@example.com", seeded.event_name]
    names = [guest.person.name for guest in chosen] + [name for name, *_ in GUESTS]
    people = [*carried, *(name for name in names if len(name) >= 8)]
    leaked = [value for value in people if value.encode() in stored]
    assert not leaked, f"in clear in Temporal: {leaked}"

    # Decrypted with the product's key, the same histories do carry them: the scan above
    # looked where the data is.
    codec = DATA_CONVERTER.payload_codec
    assert codec is not None
    histories = [await plain.get_workflow_handle(wid).fetch_history() for wid in workflow_ids]
    readable = b"".join([stored_bytes(await decrypted(h, codec)) for h in histories])
    missing = [value for value in carried if value.encode() not in readable]
    assert not missing, f"not carried by these workflows: {missing}"

    # Without the key the results cannot be read; with it (the product's client) they can.
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted"):
        await plain.get_workflow_handle(digest.id).result()
    readback = automations.client.get_workflow_handle(digest.id, result_type=DigestOutcome)
    again = await readback.result()
    assert again.text == outcome.text


def key_id_of(payload: Payload) -> str:
    return payload.metadata[KEY_ID].decode()


async def test_runs_survive_a_key_rotation_and_the_switch_to_encryption(
    temporal_env, sessions, keybox, pool, org, job_defaults
) -> None:
    """A run started under the old key, or by code from before encryption (plain payloads),
    finishes on a worker whose first key is the new one; its result is under the new key."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    config = temporal_env.client.config()
    before = Client(**{**config, "data_converter": data_converter([old])})
    legacy = Client(**{**config, "data_converter": DataConverter.default})
    after = Client(**{**config, "data_converter": data_converter([new, old])})
    chats = [-(10**13) - org.org_id - n for n in (1, 2)]
    async with sessions.begin() as session:
        for chat_id in chats:
            await orgs.link_chat(
                session, chat_id=chat_id, org_id=org.org_id, kind="group", title="T", linked_by=1
            )
    # Started while nothing polls the queue: by a process on the old key, and by old code.
    rotated = await Automations(before, job_defaults).send_digest_now(
        chat_id=chats[0], org_id=org.org_id
    )
    unencrypted = await Automations(legacy, job_defaults).send_digest_now(
        chat_id=chats[1], org_id=org.org_id
    )
    clients = worker_clients(sessions, keybox, pool)
    async with build_worker(after, job_defaults.task_queue, clients):
        for handle in (rotated, unencrypted):
            outcome = await after.get_workflow_handle(handle.id, result_type=DigestOutcome).result()
            assert "Daily digest" in outcome.text

    old_id, new_id = EncryptionCodec([old]).key_id, EncryptionCodec([new]).key_id
    history = await after.get_workflow_handle(rotated.id).fetch_history()
    (started,) = history.events[0].workflow_execution_started_event_attributes.input.payloads
    (result,) = history.events[-1].workflow_execution_completed_event_attributes.result.payloads
    assert (key_id_of(started), key_id_of(result)) == (old_id, new_id)
    # Once the old key is dropped, what it encrypted cannot be read: keep it while Temporal
    # keeps those histories.
    with pytest.raises(PayloadKeyError, match=old_id):
        await EncryptionCodec([new]).decode([started])
    history = await after.get_workflow_handle(unencrypted.id).fetch_history()
    (started,) = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert started.metadata["encoding"] == b"json/plain"  # as old code wrote it
