"""A simulator whose every request and answer is recorded at its door.

`Recorder` is plain ASGI around the simulator's app: the requests are the bytes the product's
client really sent, and the answers the bytes the simulator really gave.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest

from core.http_server import serving
from standins.luma import SimulatorConfig, SimulatorState, create_app

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its answer, decoded."""

    method: str
    path: str
    query: list[tuple[str, str]]
    body: Any  # the JSON request body, None when there was none
    status: int
    answer: Any


@dataclass
class Recorder:
    """ASGI middleware that keeps every HTTP exchange in `exchanges`."""

    app: Callable[[Message, Receive, Send], Awaitable[None]]
    exchanges: list[Exchange] = field(default_factory=list)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent: list[bytes] = []
        answered: list[bytes] = []
        status = 0

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sent.append(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                answered.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive_and_keep, send_and_keep)
        body, answer = b"".join(sent), b"".join(answered)
        self.exchanges.append(
            Exchange(
                method=scope["method"],
                path=scope["path"],
                query=parse_qsl(scope["query_string"].decode(), keep_blank_values=True),
                body=json.loads(body) if body else None,
                status=status,
                answer=json.loads(answer) if answer else None,
            )
        )


@dataclass(frozen=True, slots=True)
class RecordedSimulator:
    base_url: str
    state: SimulatorState
    recorder: Recorder


@pytest.fixture(scope="module")
async def recorded_sim() -> AsyncIterator[RecordedSimulator]:
    """A simulator with no seeded calendar and no rate limit (each test adds its own)."""
    state = SimulatorState(SimulatorConfig(calendars=0, rate_limit=None))
    recorder = Recorder(create_app(state))
    async with serving(recorder, on_stop=state.release_hangs) as base_url:
        yield RecordedSimulator(base_url, state, recorder)
