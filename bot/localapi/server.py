"""Run the local Bot API server: inside the current event loop for tests, or blocking.

The in-process server binds its own socket on a free port before starting, so parallel test
processes never race for a port, and it leaves signal handling to the host (pytest, the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.localapi.app import create_app
from bot.localapi.state import BotApiState

STARTUP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class LocalBotApi:
    """A started server: where it listens and the state it serves."""

    base_url: str
    state: BotApiState

    def bot(self, token: str | None = None, **bot_options: Any) -> Bot:
        """An aiogram Bot talking to this server (the default bot unless `token` is given);
        close its session when done."""
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(token or self.state.default_bot.token, session=session, **bot_options)


class _Server(uvicorn.Server):
    """A uvicorn server that ends long polls when it stops, instead of waiting them out."""

    def __init__(self, config: uvicorn.Config, state: BotApiState) -> None:
        super().__init__(config)
        self.state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.state.release_waiters()
        await super().shutdown(sockets)


class _EmbeddedServer(_Server):
    """A server that leaves the host process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def running_local_api(state: BotApiState | None = None) -> AsyncIterator[LocalBotApi]:
    """Serve on 127.0.0.1 (free port) as a task of the running loop."""
    state = state or BotApiState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _EmbeddedServer(_uvicorn_config(state, graceful_seconds=1), state)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _wait_started(server, task)
        yield LocalBotApi(f"http://127.0.0.1:{port}", state)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while not server.started:
            if task.done():
                task.result()  # surfaces the startup error
                raise RuntimeError("Local Bot API server exited during startup")
            await asyncio.sleep(0.01)


def serve(host: str = "127.0.0.1", port: int = 8081, *, state: BotApiState | None = None) -> None:
    """Serve until interrupted (Ctrl+C), for a demo console in another process."""
    state = state or BotApiState()
    _Server(_uvicorn_config(state, host=host, port=port, graceful_seconds=2), state).run()


def _uvicorn_config(
    state: BotApiState, *, host: str = "127.0.0.1", port: int = 0, graceful_seconds: int
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=graceful_seconds,
    )
