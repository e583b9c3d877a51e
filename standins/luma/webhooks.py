"""Luma's webhooks: endpoints registered per calendar, and fire-and-forget delivery.

A calendar's key registers endpoints with `/v2/webhooks/create` (listed, read, updated and
deleted per the spec); every guest change is delivered to each active endpoint of the guest's
calendar that wants its type, as the spec's webhook payloads, signed the way `luma-api.md`
describes: `webhook-signature: t=<unix>,v1=<hex HMAC-SHA256(secret as is, "<t>.<body>")>`,
with `webhook-id` and `webhook-timestamp`. A sign-up is delivered as Luma does it:
`guest.registered` + `guest.updated` (+ `ticket.registered` per ticket).

The global `webhook_url` knob predates registration: it gets one unsigned delivery per change.

Delivery runs in background tasks so a slow or dead receiver never slows the API response,
and failures are logged and counted instead of raised, as a real webhook sender would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import httpx

from standins.luma import shapes
from standins.luma.checks import WEBHOOK_TYPES
from standins.luma.model import ApiError, Calendar, Event, Guest, Webhook
from standins.luma.state import SimulatorState

log = logging.getLogger(__name__)

WEBHOOK_STATUSES = ("active", "paused")
Json = dict[str, Any]


# --- the registry (`/v2/webhooks/create`, `/v1/webhooks/list`, ...) --------------------------


def webhook_json(webhook: Webhook) -> Json:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "event_types": list(webhook.event_types),
        "status": webhook.status,
        "secret": webhook.secret,
        "created_at": shapes.iso(webhook.created_at),
    }


def _event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "event_types must be a non-empty list")
    for kind in value:
        if kind not in WEBHOOK_TYPES:
            raise ApiError(400, f"event_types must be among {list(WEBHOOK_TYPES)}")
    return list(dict.fromkeys(value))


def create_webhook(state: SimulatorState, calendar: Calendar, body: Json) -> Webhook:
    """A new active endpoint with a fresh secret; refused (403) without Luma Plus."""
    if not state.config.webhooks_allowed:
        raise ApiError(403, "Webhooks require Luma Plus")
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url must be an http(s) URL")
    webhook = Webhook(
        id=f"whk-{secrets.token_hex(8)}",
        calendar_id=calendar.id,
        url=url,
        event_types=_event_types(body.get("event_types")),
        status="active",
        secret=f"whsec_{secrets.token_hex(24)}",
        created_at=time.time(),
    )
    state.webhooks[webhook.id] = webhook
    return webhook


def webhooks_of(state: SimulatorState, calendar: Calendar) -> list[Webhook]:
    return [hook for hook in state.webhooks.values() if hook.calendar_id == calendar.id]


def webhook_for(state: SimulatorState, calendar: Calendar, webhook_id: Any) -> Webhook:
    """The calendar's endpoint; another calendar's is as unknown as a made-up id."""
    if not isinstance(webhook_id, str) or not webhook_id:
        raise ApiError(400, "id is required")
    webhook = state.webhooks.get(webhook_id)
    if webhook is None or webhook.calendar_id != calendar.id:
        raise ApiError(404, f"Webhook {webhook_id} not found")
    return webhook


def update_webhook(state: SimulatorState, calendar: Calendar, body: Json) -> Webhook:
    webhook = webhook_for(state, calendar, body.get("id"))
    if body.get("event_types") is not None:
        webhook.event_types = _event_types(body["event_types"])
    status = body.get("status")
    if status is not None:
        if status not in WEBHOOK_STATUSES:
            raise ApiError(400, f"status must be one of {list(WEBHOOK_STATUSES)}")
        webhook.status = status
    return webhook


def delete_webhook(state: SimulatorState, calendar: Calendar, body: Json) -> None:
    del state.webhooks[webhook_for(state, calendar, body.get("id")).id]


# --- signing and payloads ------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `t=<unix>,v1=<hex HMAC-SHA256>` of `"<t>.<body>"`,
    keyed with the `whsec_…` secret string as is."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one signed delivery (a fresh `webhook-id` each time)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "webhook-id": f"msg_{secrets.token_hex(12)}",
        "webhook-timestamp": str(moment),
        "webhook-signature": signature(secret, moment, body),
    }


def guest_payload(kind: str, guest: Guest, event: Event) -> Json:
    """A guest webhook body as the spec's `guest.*` / `ticket.registered` schemas define it."""
    data: Json = shapes.guest_get_v3(guest, event)
    # Webhook payloads carry the older `api_id` beside `id` on tickets and orders.
    for name in ("event_tickets", "event_ticket_orders"):
        data[name] = [{**item, "api_id": item["id"]} for item in data[name]]
    event_json = shapes.event_entry_v3(event)
    coordinate = event_json["coordinate"]  # and the deprecated string spellings of it
    event_json |= {
        "geo_latitude": str(coordinate["latitude"]),
        "geo_longitude": str(coordinate["longitude"]),
    }
    data |= {"custom_source": None, "event": event_json}
    if kind == "ticket.registered" and guest.ticket is not None:
        data["event_ticket"] = shapes.ticket_v3(guest.ticket, guest)
    return {"type": kind, "data": data}


def deliveries_for(kind: str, guest: Guest) -> list[str]:
    """The webhook types one state change fires: a sign-up is several, as on Luma."""
    if kind != "guest.registered":
        return [kind]
    tickets = ["ticket.registered"] if guest.ticket is not None else []
    return ["guest.registered", "guest.updated", *tickets]


class WebhookSender:
    """Listens to guest changes in the state and POSTs them to the configured URL."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=5.0)
        self._state.listeners.append(self.notify)

    async def stop(self) -> None:
        self._state.listeners.remove(self.notify)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        if self._client is not None:
            await self._client.aclose()

    def notify(self, kind: str, guest: Guest, event: Event) -> None:
        if self._client is None:
            return
        url = self._state.config.webhook_url
        if url:
            payload: dict[str, object] = {
                "type": kind,
                "data": {**shapes.guest_v3(guest, event), "event": shapes.event_v3(event)},
            }
            self._spawn(self._post(self._client, url, kind, json.dumps(payload).encode(), {}))
        hooks = [h for h in self._state.webhooks.values() if h.calendar_id == event.calendar_id]
        for delivered in deliveries_for(kind, guest):
            body = json.dumps(guest_payload(delivered, guest, event)).encode()
            for hook in hooks:
                if hook.wants(delivered):
                    headers = signed_headers(hook.secret, body)
                    self._spawn(self._post(self._client, hook.url, delivered, body, headers))

    def _spawn(self, delivery: Any) -> None:
        task = asyncio.get_running_loop().create_task(delivery)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(
        self,
        client: httpx.AsyncClient,
        url: str,
        kind: str,
        body: bytes,
        headers: dict[str, str],
    ) -> None:
        # Logs name only the host: the receiving URL carries the receiver's secret path token.
        host = httpx.URL(url).host
        headers = {"content-type": "application/json", **headers}
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._state.counters["webhooks_failed"] += 1
            log.warning("Webhook %s to %s failed: %s", kind, host, type(exc).__name__)
            return
        if response.is_success:
            self._state.counters["webhooks_sent"] += 1
        else:
            self._state.counters["webhooks_failed"] += 1
            log.warning("Webhook %s to %s answered %s", kind, host, response.status_code)
