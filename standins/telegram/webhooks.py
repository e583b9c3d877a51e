"""Webhook mode: push each bot's pending updates to the URL it registered, as Telegram does.

Per bot, updates go out one at a time and in order, with the `X-Telegram-Bot-Api-Secret-Token`
header when the bot set a secret. A failed delivery stays queued, is retried after a pause and
shows in getWebhookInfo. A reply that names a method is executed, like Telegram's webhook
replies (aiogram sends them as multipart forms when it handles updates in the foreground).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator

import httpx
from starlette.datastructures import Headers

from standins.telegram import methods
from standins.telegram.errors import ApiError
from standins.telegram.state import BotAccount, BotApiState, Json
from standins.telegram.wire import decode_params

RETRY_DELAY = 0.5  # seconds; Telegram waits longer, tests should not
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookPusher:
    """Delivers updates of every bot that has a webhook, until cancelled."""

    def __init__(self, state: BotApiState, client: httpx.AsyncClient) -> None:
        self.state = state
        self.client = client
        self._retry_at: dict[int, float] = {}

    async def run(self) -> None:
        while True:
            for bot, update in await self.state.wait_until(self._due, RETRY_DELAY) or []:
                await self.push_update(bot, update)

    def _due(self) -> list[tuple[BotAccount, Json]] | None:
        now = time.monotonic()
        due = [
            (bot, pending[0])
            for bot in self.state.bots.values()
            if bot.webhook is not None
            and self._retry_at.get(bot.id, 0) <= now
            and (pending := bot.pending(1))
        ]
        return due or None

    async def push_update(self, bot: BotAccount, update: Json) -> None:
        """POST one update; confirm it on a 2xx answer, else note the error and retry later."""
        hook = bot.webhook
        if hook is None:
            return
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        try:
            response = await self.client.post(hook.url, json=update, headers=headers)
        except httpx.HTTPError as error:
            self._failed(bot, str(error) or type(error).__name__)
            return
        if not response.is_success:
            self._failed(
                bot,
                f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}",
            )
            return
        self._retry_at.pop(bot.id, None)
        bot.confirm(update["update_id"] + 1)
        await self._run_reply(bot, response)

    def _failed(self, bot: BotAccount, message: str) -> None:
        if bot.webhook is not None:
            bot.webhook.last_error_date = int(time.time())
            bot.webhook.last_error_message = message
        self._retry_at[bot.id] = time.monotonic() + RETRY_DELAY

    async def _run_reply(self, bot: BotAccount, response: httpx.Response) -> None:
        async def body() -> AsyncGenerator[bytes, None]:
            yield response.content

        with contextlib.suppress(ApiError):  # Telegram has nobody to report these to
            params = await decode_params(Headers(dict(response.headers)), {}, body())
            method = params.pop("method", None)
            if method:
                await methods.call(self.state, bot, str(method), params)


async def run_pusher(state: BotApiState) -> None:
    """The webhook pusher with its own HTTP client, for the app's lifespan."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        await WebhookPusher(state, client).run()
