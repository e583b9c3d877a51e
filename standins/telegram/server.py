"""Run the local Bot API server: inside the current event loop for tests, or blocking."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from core.http_server import serve_forever, serving
from standins.telegram.app import create_app
from standins.telegram.state import BotApiState


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


@contextlib.asynccontextmanager
async def running_local_api(state: BotApiState | None = None) -> AsyncIterator[LocalBotApi]:
    """Serve on 127.0.0.1 (free port) as a task of the running loop; long polls end at stop."""
    state = state or BotApiState()
    async with serving(create_app(state), on_stop=state.release_waiters) as base_url:
        yield LocalBotApi(base_url, state)


def serve(host: str = "127.0.0.1", port: int = 8081, *, state: BotApiState | None = None) -> None:
    """Serve until interrupted (Ctrl+C), for a demo console in another process."""
    state = state or BotApiState()
    serve_forever(create_app(state), host, port, on_stop=state.release_waiters)
