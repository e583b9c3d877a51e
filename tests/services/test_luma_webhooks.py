"""Webhooks that set themselves up, end to end: linking a calendar registers a webhook with the
Luma simulator, the simulator delivers signed payloads to the control API served on a real
port, and the bot's cache has the guest within seconds. Bad, stale and replayed deliveries
change nothing; unlinking deletes the webhook; a lost or paused one is repaired by the sync."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.service import RPCError

from api.deps import ApiDeps
from api.main import create_app
from core import defaults
from core.http_server import serving
from core.settings import Settings
from luma.signing import sign
from services import linking, luma_webhooks
from services.caller import Caller
from services.linking import Place
from standins.luma import shapes
from standins.luma.webhooks import guest_payload
from store import cache
from store.models import Guest, Organization, Role
from tests.services.conftest import person
from web.deps import WebDeps
from workflows import ids
from workflows.contracts.sync import SyncInput, SyncReport
from workflows.sync import SyncOrgWorkflow

DEADLINE = 20.0  # seconds; the deliveries themselves take milliseconds


@pytest.fixture
async def api_url(db_url, sessions, automations, pool, keybox) -> AsyncIterator[str]:
    """The control API on a real port, where the simulator's webhooks can reach it."""
    settings = Settings(_env_file=None, database_url=db_url)
    app = create_app(
        settings,
        deps=ApiDeps(sessions, automations),
        web=WebDeps(settings, pool, keybox_override=keybox),
    )
    async with serving(app) as url:
        yield url


@dataclass
class Linked:
    org_id: int
    calendar_id: str
    event_id: str
    place: Place
    outcome: linking.Linked


async def _link(sessions, simulator, pool, keybox, billing, automations, url: str) -> Linked:
    calendar = simulator.state.add_calendar(f"Hooked {uuid.uuid4().hex[:6]}")
    event_id = simulator.state.add_event(
        calendar.id, guests=4, status_mix={"pending_approval": 1.0}
    )
    user_id = await person(sessions, None, None)
    place = Place(user_id, user_id, "private", "")
    async with sessions() as session:
        outcome = await linking.link_calendar(
            place,
            session,
            luma=pool,
            keybox=keybox,
            billing=billing,
            automations=automations,
            key=calendar.api_key,
            public_url=url,
        )
    assert isinstance(outcome, linking.Linked)  # a calendar key: linked at once
    await (await automations.sync_now(outcome.org_id)).result()
    return Linked(outcome.org_id, calendar.id, event_id, place, outcome)


async def _org(sessions, org_id: int) -> Organization:
    async with sessions() as session:
        org = await session.get(Organization, org_id)
        assert org is not None
        return org


def _hooks(simulator, calendar_id: str) -> list[Any]:
    return [h for h in simulator.state.webhooks.values() if h.calendar_id == calendar_id]


async def _cached(sessions, org_id: int, event_id: str, email: str) -> Guest | None:
    async with sessions() as session:
        guest: Guest | None = await session.scalar(
            select(Guest).where(
                Guest.org_id == org_id, Guest.luma_event_id == event_id, Guest.email == email
            )
        )
        return guest


async def _sync_every(automations, org_id: int) -> timedelta:
    schedule = automations.client.get_schedule_handle(ids.sync_schedule_id(org_id))
    every: timedelta = (await schedule.describe()).schedule.spec.intervals[0].every
    return every


async def _refresh_started(automations, workflow_id: str) -> bool:
    try:
        await automations.handle(workflow_id).describe()
    except RPCError:
        return False
    return True


async def test_a_registration_reaches_the_cache_through_a_signed_webhook(
    sessions, simulator, pool, keybox, billing, automations, api_url
) -> None:
    linked = await _link(sessions, simulator, pool, keybox, billing, automations, api_url)
    assert linked.outcome.webhook == "active" and linked.outcome.note == ""
    org = await _org(sessions, linked.org_id)
    [hook] = _hooks(simulator, linked.calendar_id)
    assert hook.id == org.luma_webhook_id and hook.status == "active"
    assert hook.url == f"{api_url}/luma/webhook/{org.webhook_token}"
    assert set(hook.event_types) == set(luma_webhooks.EVENT_TYPES)
    assert org.webhook_secret_ciphertext is not None
    assert hook.secret.encode() not in org.webhook_secret_ciphertext
    assert luma_webhooks.webhook_secret(org, keybox) == hook.secret
    # The schedule keeps its interval; its runs are now a safety net (see the test below).
    assert await _sync_every(automations, linked.org_id) == timedelta(
        minutes=defaults.SYNC_INTERVAL_MINUTES
    )

    state = simulator.state
    calendar, event = state.calendar(linked.calendar_id), state.event(linked.event_id)
    before = state.counters["op:guest"]
    sent = state.counters["webhooks_sent"]
    state.add_guests(calendar, event, [("new.guest@acme.com", "New Guest")], status="approved",
                     path="test")  # fmt: skip
    deadline = time.monotonic() + DEADLINE
    cached = None
    while cached is None and time.monotonic() < deadline:
        cached = await _cached(sessions, linked.org_id, linked.event_id, "new.guest@acme.com")
        await asyncio.sleep(0.05)
    assert cached is not None and cached.approval_status == "approved"

    # guest.registered + guest.updated of the one sign-up, both signed and accepted...
    assert state.counters["webhooks_sent"] - sent == 2 and state.counters["webhooks_failed"] == 0
    # ...made one refresh: the guest was read from Luma once.
    guest_id = event.by_email["new.guest@acme.com"].id
    handle = automations.handle(ids.guest_refresh_id(linked.org_id, linked.event_id, guest_id))
    assert await handle.result() == "approved"
    assert state.counters["op:guest"] - before == 1


async def test_bad_stale_and_replayed_deliveries_change_nothing(
    sessions, simulator, pool, keybox, billing, automations, api_url
) -> None:
    linked = await _link(sessions, simulator, pool, keybox, billing, automations, api_url)
    org = await _org(sessions, linked.org_id)
    [hook] = _hooks(simulator, linked.calendar_id)
    event = simulator.state.event(linked.event_id)
    guest = next(iter(event.guests.values()))
    guest.approval_status = "approved"  # changed in Luma, not yet seen by the bot
    body = json.dumps(guest_payload("guest.updated", guest, event)).encode()
    url = f"{api_url}/luma/webhook/{org.webhook_token}"
    refresh_id = ids.guest_refresh_id(linked.org_id, linked.event_id, guest.id)
    now = int(time.time())

    def headers(signature: str, delivery: str = "msg_1") -> dict[str, str]:
        return {
            "content-type": "application/json",
            "webhook-id": delivery,
            "webhook-timestamp": signature.split(",")[0].removeprefix("t="),
            "webhook-signature": signature,
        }

    good = sign(hook.secret, now, body)
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    refusals = {
        "tampered": (body, tampered),
        "stale": (body, sign(hook.secret, now - 400, body)),
        "future": (body, sign(hook.secret, now + 400, body)),
        "other secret": (body, sign("whsec_not-this-one", now, body)),
        "body changed": (body.replace(b'"approved"', b'"declined"'), good),
        "malformed": (body, "v1=abc"),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        for name, (sent, signature) in refusals.items():
            response = await http.post(url, content=sent, headers=headers(signature))
            assert response.status_code == 401, (name, response.text)
        assert not await _refresh_started(automations, refresh_id)
        # Unsigned, with the id Luma is about to send: it cannot burn that id.
        unsigned = {"content-type": "application/json", "webhook-id": "msg_1"}
        burnt = await http.post(url, content=body, headers=unsigned)
        assert burnt.status_code == 202
        await automations.handle(refresh_id).result()

        accepted = await http.post(url, content=body, headers=headers(good))
        assert accepted.status_code == 202 and accepted.json()["workflow_id"] == refresh_id
        assert await automations.handle(refresh_id).result() == "approved"
        replayed = await http.post(url, content=body, headers=headers(good))
        assert replayed.status_code == 409
        fresh = sign(hook.secret, int(time.time()), body)  # re-signed: still the same delivery
        assert (await http.post(url, content=body, headers=headers(fresh))).status_code == 409
        other = await http.post(url, content=body, headers=headers(fresh, "msg_2"))
        assert other.status_code == 202

        # An address Luma would never send is refused for good (4xx), never a 500.
        junk = guest_payload("guest.updated", guest, event)
        junk["data"] |= {"id": "not a guest id!", "user_email": "no-at-sign"}
        raw = json.dumps(junk).encode()
        signed = sign(hook.secret, int(time.time()), raw)
        invalid = await http.post(url, content=raw, headers=headers(signed, "msg_3"))
        assert invalid.status_code == 422

        # An event's change re-reads the calendar's events.
        event.name = "Renamed in Luma"
        changed = json.dumps({"type": "event.updated", "data": shapes.event_entry_v3(event)})
        signed = sign(hook.secret, int(time.time()), changed.encode())
        updated = await http.post(url, content=changed, headers=headers(signed, "msg_4"))
        assert updated.status_code == 202
        assert updated.json()["workflow_id"] == ids.sync_id(linked.org_id)
        await automations.handle(updated.json()["workflow_id"]).result()
    async with sessions() as session:
        row = await cache.get_event(session, org_id=linked.org_id, luma_event_id=event.id)
        assert row is not None and row.name == "Renamed in Luma"


async def test_unlink_deletes_the_webhook_and_a_refusal_is_told_once(
    sessions, simulator, pool, keybox, billing, automations, api_url
) -> None:
    linked = await _link(sessions, simulator, pool, keybox, billing, automations, api_url)
    assert len(_hooks(simulator, linked.calendar_id)) == 1
    place = linked.place  # its linker is the calendar's admin
    admin = Caller(linked.org_id, Role.ADMIN, "bot", place.user_id, place.chat_id)
    async with sessions() as session:
        unlinked = await linking.unlink_chat(
            admin, session, automations, private=True, luma=pool, keybox=keybox
        )
    assert unlinked.stopped
    assert _hooks(simulator, linked.calendar_id) == []
    org = await _org(sessions, linked.org_id)
    assert org.luma_webhook_id is None and org.webhook_secret_ciphertext is None

    simulator.state.configure(webhooks_allowed=False)  # a calendar without Luma Plus
    plain = await _link(sessions, simulator, pool, keybox, billing, automations, api_url)
    assert plain.outcome.webhook == "refused" and "Luma Plus" in plain.outcome.note
    assert plain.outcome.syncing and _hooks(simulator, plain.calendar_id) == []
    assert await _sync_every(automations, plain.org_id) == timedelta(
        minutes=defaults.SYNC_INTERVAL_MINUTES
    )
    user_id = await person(sessions, None, None)
    again = Place(user_id, -(10**12) - uuid.uuid4().int % 10**9, "group", "Team")
    async with sessions() as session:
        second = await linking.link_calendar(
            again,
            session,
            luma=pool,
            keybox=keybox,
            billing=billing,
            automations=automations,
            key=simulator.state.calendar(plain.calendar_id).api_key,
            public_url=api_url,
        )
    assert isinstance(second, linking.Linked)
    assert second.webhook == "refused" and second.note == ""  # said once


async def test_the_sync_repairs_a_paused_or_lost_webhook_and_a_new_key_registers_anew(
    sessions, simulator, pool, keybox, billing, automations, api_url
) -> None:
    linked = await _link(sessions, simulator, pool, keybox, billing, automations, api_url)
    [hook] = _hooks(simulator, linked.calendar_id)
    hook.status = "paused"  # Luma pauses an endpoint that kept failing
    await (await automations.sync_now(linked.org_id)).result()
    [repaired] = _hooks(simulator, linked.calendar_id)
    org = await _org(sessions, linked.org_id)
    assert repaired.id != hook.id and repaired.status == "active" and repaired.url == hook.url
    assert org.luma_webhook_id == repaired.id
    assert luma_webhooks.webhook_secret(org, keybox) == repaired.secret

    del simulator.state.webhooks[repaired.id]  # deleted in Luma's UI
    await (await automations.sync_now(linked.org_id)).result()
    [recreated] = _hooks(simulator, linked.calendar_id)
    assert recreated.status == "active"
    assert recreated.url.endswith(f"/luma/webhook/{org.webhook_token}")
    assert (await _org(sessions, linked.org_id)).luma_webhook_id == recreated.id

    who = Caller(linked.org_id, Role.ADMIN, "web", linked.place.user_id, None)
    key = simulator.state.calendar(linked.calendar_id).api_key
    async with sessions.begin() as session:
        await linking.replace_key(
            who, session, luma=pool, keybox=keybox, key=key, public_url=api_url
        )
    [renewed] = _hooks(simulator, linked.calendar_id)
    assert renewed.id != recreated.id and renewed.url == hook.url
    assert (await _org(sessions, linked.org_id)).luma_webhook_id == renewed.id


async def _scheduled_run(automations, org_id: int) -> SyncReport:
    """What the org's schedule starts, now."""
    schedule = automations.client.get_schedule_handle(ids.sync_schedule_id(org_id))
    action = (await schedule.describe()).schedule.action
    [job] = await automations.client.data_converter.decode(action.args, [SyncInput])
    assert job.safety_net
    report: SyncReport = await automations.client.execute_workflow(
        SyncOrgWorkflow.run, job, id=ids.sync_id(org_id), task_queue=action.task_queue
    )
    return report


async def test_with_the_webhook_on_scheduled_runs_check_it_and_tighten_back_when_it_fails(
    sessions, simulator, pool, keybox, billing, automations, api_url
) -> None:
    """While the webhook is active, a scheduled run costs one request (the webhook list) and
    makes a full pass only every WEBHOOK_SYNC_INTERVAL_MINUTES; a webhook Luma paused is
    repaired at the next run (minutes, not hours); one that cannot be repaired makes every
    run a full sync again."""
    linked = await _link(sessions, simulator, pool, keybox, billing, automations, api_url)
    cal, counters = linked.calendar_id, simulator.state.counters
    before = dict(counters)
    checked = await _scheduled_run(automations, linked.org_id)
    assert (checked.events, checked.events_synced) == (1, 0)
    asked = {op: n - before.get(op, 0) for op, n in counters.items() if n != before.get(op, 0)}
    # One request; a post-event summary the link started may read its event meanwhile.
    assert asked.pop("op:webhooks_list") == 1 and set(asked) <= {"op:event"}

    [hook] = _hooks(simulator, cal)
    hook.status = "paused"
    assert (await _scheduled_run(automations, linked.org_id)).events_synced == 0
    [repaired] = _hooks(simulator, cal)
    assert repaired.status == "active" and repaired.id != hook.id

    async with sessions.begin() as session:  # the last full pass is older than the net
        org = await session.get(Organization, linked.org_id)
        assert org is not None and org.last_synced_at is not None
        org.last_synced_at -= timedelta(minutes=defaults.WEBHOOK_SYNC_INTERVAL_MINUTES + 1)
    assert (await _scheduled_run(automations, linked.org_id)).events_synced == 1
    assert (await _scheduled_run(automations, linked.org_id)).events_synced == 0

    simulator.state.configure(webhooks_allowed=False)  # Luma no longer lets us register one
    del simulator.state.webhooks[repaired.id]
    assert (await _scheduled_run(automations, linked.org_id)).events_synced == 1
    assert (await _org(sessions, linked.org_id)).webhook_status == luma_webhooks.REFUSED
    assert (await _scheduled_run(automations, linked.org_id)).events_synced == 1
