"""The bot's webhook mode through the API: the local Bot API pushes updates to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from api.deps import ApiDeps
from api.main import create_app
from api.telegram import SECRET_HEADER, TelegramWebhook, serving_updates, webhook_secret
from bot.app import BotDeps, build_dispatcher
from bot.factory import create_bot
from bot.localapi import LocalBotApi, running_local_api
from core.http_server import serving
from nlp import IntentParser
from tests.api.conftest import client_for, error_of

USER = 7_000_123


@pytest.fixture
async def telegram() -> AsyncIterator[LocalBotApi]:
    async with running_local_api() as api:
        yield api


@pytest.fixture
async def hook(
    telegram, api_settings, sessions, keybox, pool, automations
) -> AsyncIterator[TelegramWebhook]:
    bot = create_bot(telegram.state.default_bot.token, telegram.base_url)
    deps = BotDeps(
        settings=api_settings,
        sessions=sessions,
        keybox=keybox,
        luma=pool,
        automations=automations,
        parser=IntentParser(),
    )
    try:
        async with serving_updates(bot, build_dispatcher(deps)) as hook:
            yield hook
    finally:
        await bot.session.close()


@pytest.fixture
async def bot_app(api_settings, sessions, automations, hook):  # type: ignore[no-untyped-def]
    app = create_app(api_settings, deps=ApiDeps(sessions, automations, hook))
    async with app.router.lifespan_context(app):
        yield app


async def test_updates_reach_the_bot(telegram, hook, bot_app, app) -> None:
    async with serving(bot_app) as url:
        await hook.bot.set_webhook(
            f"{url}/telegram/webhook", secret_token=webhook_secret(hook.bot.token)
        )
        telegram.state.user_says(USER, USER, "/help")
        reply = await telegram.state.wait_for_reply(USER)
    assert "What I can do" in reply.text
    assert telegram.state.calls("setMyCommands")  # the dispatcher's startup ran

    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": USER, "type": "private"},
            "text": "/help",
        },
    }
    good = {SECRET_HEADER: webhook_secret(hook.bot.token)}
    async with client_for(bot_app) as client:
        missing = await client.post("/telegram/webhook", json=update)
        assert missing.status_code == 401 and SECRET_HEADER in error_of(missing)["message"]
        wrong = await client.post(
            "/telegram/webhook", json=update, headers={SECRET_HEADER: "0" * 64}
        )
        assert wrong.status_code == 401
        odd = await client.post("/telegram/webhook", json={"update_id": "x"}, headers=good)
        assert odd.status_code == 422 and "Telegram update" in error_of(odd)["message"]
    async with client_for(app) as client:  # an API without a bot token
        off = await client.post("/telegram/webhook", json=update, headers=good)
        assert off.status_code == 404 and "BOT_TOKEN" in error_of(off)["message"]
