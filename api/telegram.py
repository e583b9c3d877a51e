"""The bot in webhook mode, served by the control API at `POST /telegram/webhook`.

Opt-in (`lumabot api --bot-webhook-url URL`): the API then builds the bot's clients and
dispatcher and registers URL with Telegram at startup; run it instead of `lumabot bot`
(which goes back to polling and removes the webhook). Telegram proves a delivery with the
`X-Telegram-Bot-Api-Secret-Token` header, which echoes the `secret_token` given to
`setWebhook`; the secret is derived from the bot token, so no extra setting must be kept in
sync. Updates are handled in background tasks and acknowledged at once, as aiogram's own
webhook handler does: a slow handler (waiting for a Luma refresh) never makes Telegram time
out and deliver the update again.

aiogram is imported only when the webhook mode is on: its types take about 3 s to import, in
every API process, and an API without `--bot-webhook-url` never touches them (the route
answers 404 without a receiver).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from core.compare import same_secret
from core.settings import ConfigError, Settings

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

log = logging.getLogger("lumabot.api")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DRAIN_SECONDS = 10.0  # on shutdown, updates still being handled get this long to finish


def webhook_secret(bot_token: str) -> str:
    """The `secret_token` for `setWebhook` (64 hex characters, as Telegram allows)."""
    return hashlib.sha256(f"lumabot-telegram-webhook:{bot_token}".encode()).hexdigest()


class TelegramWebhook:
    """Checks Telegram's secret and hands each update to the bot's dispatcher."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self._secret = webhook_secret(bot.token)
        self._tasks: set[asyncio.Task[Any]] = set()

    def accepts(self, secret: str | None) -> bool:
        return same_secret(secret, self._secret)

    def feed(self, payload: dict[str, Any]) -> None:
        """Parse the update (pydantic's ValidationError if it is not one) and handle it later."""
        from aiogram.types import Update  # loaded with the bot already: see the module's doc

        update = Update.model_validate(payload, context={"bot": self.bot})
        task = asyncio.create_task(self.dispatcher.feed_update(self.bot, update))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Telegram update failed", exc_info=task.exception())

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)


@asynccontextmanager
async def serving_updates(bot: Bot, dispatcher: Dispatcher) -> AsyncIterator[TelegramWebhook]:
    """The dispatcher's startup and shutdown hooks around webhook delivery."""
    context = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    await dispatcher.emit_startup(bot=bot, **context)
    hook = TelegramWebhook(bot, dispatcher)
    try:
        yield hook
    finally:
        await hook.drain()
        await dispatcher.emit_shutdown(bot=bot, **context)


@asynccontextmanager
async def bot_webhook(settings: Settings, url: str | None) -> AsyncIterator[TelegramWebhook | None]:
    """The bot's clients and dispatcher, with the webhook registered at `url`; None if no url.

    The webhook stays registered when the API stops, so Telegram keeps the updates of a
    restart and delivers them when it is back.
    """
    if url is None:
        yield None
        return
    if settings.bot_token is None:
        raise ConfigError("BOT_TOKEN is not set: the bot's webhook mode needs the bot token.")
    from bot.app import build_dispatcher, open_deps  # the bot's weight only when it is on
    from bot.factory import create_bot

    async with open_deps(settings) as deps:
        bot = create_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
        try:
            dispatcher = build_dispatcher(deps)
            async with serving_updates(bot, dispatcher) as hook:
                await bot.set_webhook(
                    url,
                    secret_token=webhook_secret(bot.token),
                    allowed_updates=dispatcher.resolve_used_update_types(),
                )
                log.info("Bot webhook registered with %s", settings.telegram_api_url)
                yield hook
        finally:
            await bot.session.close()
