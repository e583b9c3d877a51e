"""The simulator's webhooks as the published spec has them: endpoints registered per calendar,
and signed deliveries of the spec's webhook payloads for every guest change."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.http_server import serving
from standins.luma import RunningSimulator, SimulatorConfig, running_simulator
from tests.contract.openapi import problems, spec

TYPES = ["guest.registered", "guest.updated", "ticket.registered"]


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str
    got: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)

    async def take(self, count: int) -> list[Delivery]:
        return [await asyncio.wait_for(self.got.get(), 5) for _ in range(count)]


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(seed=11, calendars=2, events_per_calendar=0, rate_limit=None)
    async with running_simulator(config) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    queue: asyncio.Queue[Delivery] = asyncio.Queue()

    async def receive(request: Request) -> Response:
        body = await request.body()
        await queue.put(Delivery(request.url.path, dict(request.headers), body))
        return Response(status_code=202)

    app = Starlette(routes=[Route("/hook/{name}", receive, methods=["POST"])])
    async with serving(app) as url:
        yield Receiver(url, queue)


def _auth(key: str) -> dict[str, str]:
    return {"x-luma-api-key": key}


def _verified(delivery: Delivery, secret: str) -> bool:
    parts = dict(item.split("=", 1) for item in delivery.headers["webhook-signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + delivery.body, hashlib.sha256
    ).hexdigest()
    return parts["t"] == delivery.headers["webhook-timestamp"] and hmac.compare_digest(
        expected, parts["v1"]
    )


def _payload_schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec()["webhooks"][kind]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


async def test_registry_per_calendar(sim: RunningSimulator, receiver: Receiver) -> None:
    one, two = sim.calendars
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        made = await http.post(
            "/v2/webhooks/create",
            json={"url": f"{receiver.url}/hook/a", "event_types": TYPES},
            headers=_auth(one.api_key),
        )
        assert made.status_code == 200, made.text
        hook = made.json()
        assert hook["secret"].startswith("whsec_") and hook["status"] == "active"
        listed = (await http.get("/v1/webhooks/list", headers=_auth(one.api_key))).json()
        assert [entry["id"] for entry in listed["entries"]] == [hook["id"]]
        assert (await http.get("/v1/webhooks/list", headers=_auth(two.api_key))).json()[
            "entries"
        ] == []
        other = await http.get(
            "/v2/webhooks/get", params={"id": hook["id"]}, headers=_auth(two.api_key)
        )
        assert other.status_code == 404
        paused = await http.post(
            "/v2/webhooks/update",
            json={"id": hook["id"], "status": "paused"},
            headers=_auth(one.api_key),
        )
        assert paused.json()["status"] == "paused"
        got = await http.get(
            "/v2/webhooks/get", params={"id": hook["id"]}, headers=_auth(one.api_key)
        )
        assert got.json()["status"] == "paused"
        for path, body in (
            ("/v2/webhooks/create", {"url": "ftp://x", "event_types": TYPES}),
            ("/v2/webhooks/create", {"url": f"{receiver.url}/hook/a", "event_types": []}),
            ("/v2/webhooks/create", {"url": f"{receiver.url}/hook/a", "event_types": ["x.y"]}),
            ("/v1/webhooks/delete", {}),
        ):
            refused = await http.post(path, json=body, headers=_auth(one.api_key))
            assert refused.status_code == 400, (path, body)
        gone = await http.post(
            "/v1/webhooks/delete", json={"id": hook["id"]}, headers=_auth(one.api_key)
        )
        assert gone.status_code == 200 and gone.json() == {}
        again = await http.post(
            "/v1/webhooks/delete", json={"id": hook["id"]}, headers=_auth(one.api_key)
        )
        assert again.status_code == 404
        sim.state.configure(webhooks_allowed=False)  # a calendar without Luma Plus
        plain = await http.post(
            "/v2/webhooks/create",
            json={"url": f"{receiver.url}/hook/a", "event_types": TYPES},
            headers=_auth(one.api_key),
        )
        assert plain.status_code == 403


async def test_signed_deliveries_of_the_spec_payloads(
    sim: RunningSimulator, receiver: Receiver
) -> None:
    one, two = sim.calendars
    event_id = sim.state.add_event(one.id, guests=2, status_mix={"pending_approval": 1.0})
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        hooks = {}
        for name, key, types in (
            ("all", one.api_key, ["*"]),
            ("updates", one.api_key, ["guest.updated"]),
            ("other", two.api_key, ["*"]),  # another calendar's: hears nothing of this one
        ):
            made = await http.post(
                "/v2/webhooks/create",
                json={"url": f"{receiver.url}/hook/{name}", "event_types": types},
                headers=_auth(key),
            )
            hooks[name] = made.json()
        guest = next(iter(sim.state.event(event_id).guests.values()))
        await http.post(
            "/v1/events/guests/update-status",
            json={"event_id": event_id, "guest_id": guest.id, "status": "approved"},
            headers=_auth(one.api_key),
        )
        first = await receiver.take(2)
        assert sorted(d.path for d in first) == ["/hook/all", "/hook/updates"]
        # A sign-up is registered + updated (+ one ticket.registered per ticket).
        await http.post(
            "/v1/events/guests/add",
            json={"event_id": event_id, "guests": [{"email": "new@acme.com"}]},
            headers=_auth(one.api_key),
        )
        signup = await receiver.take(3)
    deliveries = first + signup
    assert all(d.path != "/hook/other" for d in deliveries)
    kinds = sorted((d.path, d.payload["type"]) for d in signup)
    assert kinds == [
        ("/hook/all", "guest.registered"),
        ("/hook/all", "guest.updated"),
        ("/hook/updates", "guest.updated"),
    ]
    assert len({d.headers["webhook-id"] for d in deliveries}) == len(deliveries)
    for delivery in deliveries:
        secret = hooks[delivery.path.rsplit("/", 1)[1]]["secret"]
        assert _verified(delivery, secret)
        assert not _verified(delivery, hooks["other"]["secret"])
        payload = delivery.payload
        assert problems(_payload_schema(payload["type"]), payload) == [], payload["type"]
        assert payload["data"]["event"]["id"] == event_id


def test_a_ticket_registration_is_a_spec_payload() -> None:
    from standins.luma import SimulatorState
    from standins.luma.webhooks import deliveries_for, guest_payload

    state = SimulatorState(
        SimulatorConfig(seed=3, calendars=1, events_per_calendar=0, rate_limit=None)
    )
    event_id = state.add_event(state.calendars[0].id, guests=5, paid_share=1.0)
    event = state.event(event_id)
    guest = next(iter(event.guests.values()))
    assert deliveries_for("guest.registered", guest) == TYPES
    payload = guest_payload("ticket.registered", guest, event)
    assert payload["data"]["event_ticket"]["id"] == guest.ticket.id  # type: ignore[union-attr]
    assert problems(_payload_schema("ticket.registered"), payload) == []
