"""Fire-and-forget webhook delivery, shaped like Luma's `guest.updated` / `guest.registered`.

Delivery runs in background tasks so a slow or dead receiver never slows the API response,
and failures are logged and counted instead of raised, as a real webhook sender would.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from standins.luma import shapes
from standins.luma.model import Event, Guest
from standins.luma.state import SimulatorState

log = logging.getLogger(__name__)


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
        url = self._state.config.webhook_url
        if not url or self._client is None:
            return
        payload: dict[str, object] = {
            "type": kind,
            "data": {**shapes.guest_v3(guest, event), "event": shapes.event_v3(event)},
        }
        task = asyncio.get_running_loop().create_task(self._post(self._client, url, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, client: httpx.AsyncClient, url: str, payload: dict[str, object]) -> None:
        # Logs name only the host: the receiving URL carries the receiver's secret path token.
        host = httpx.URL(url).host
        try:
            response = await client.post(url, json=payload)
        except httpx.HTTPError as exc:
            self._state.counters["webhooks_failed"] += 1
            log.warning("Webhook %s to %s failed: %s", payload["type"], host, type(exc).__name__)
            return
        if response.is_success:
            self._state.counters["webhooks_sent"] += 1
        else:
            self._state.counters["webhooks_failed"] += 1
            log.warning("Webhook %s to %s answered %s", payload["type"], host, response.status_code)
