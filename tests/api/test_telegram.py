"""The bot's webhook mode through the API's own lifespan, against the local Bot API.

Nothing is injected here: `create_app(..., bot_webhook_url=...)` builds the bot's clients
from settings (test PostgreSQL, Temporal, simulator) and registers the webhook at startup;
the test then points the local Bot API at the served app, which pushes a user's message to
`/telegram/webhook` with the derived secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from api.main import create_app
from api.telegram import SECRET_HEADER, webhook_secret
from core.http_server import serving
from core.settings import Settings
from standins.telegram import LocalBotApi, running_local_api
from tests.api.conftest import error_of

USER = 7_000_123
UPDATE = {
    "update_id": 1,
    "message": {
        "message_id": 1,
        "date": 0,
        "chat": {"id": USER, "type": "private"},
        "text": "/help",
    },
}


@pytest.fixture
async def telegram() -> AsyncIterator[LocalBotApi]:
    async with running_local_api() as api:
        yield api


@pytest.fixture
def bot_settings(api_settings, telegram, temporal_env, simulator, job_defaults, encryption_keys):
    return api_settings.model_copy(
        update={
            "bot_token": SecretStr(telegram.state.default_bot.token),
            "telegram_api_url": telegram.base_url,
            "temporal_address": temporal_env.client.service_client.config.target_host,
            "temporal_task_queue": job_defaults.task_queue,
            "luma_api_url": simulator.base_url,
            "encryption_keys": [SecretStr(key) for key in encryption_keys],
        }
    )


async def test_updates_reach_the_bot(telegram, bot_settings: Settings) -> None:
    state, token = telegram.state, telegram.state.default_bot.token
    announced = "http://127.0.0.1:9/telegram/webhook"  # the public URL a deployment gives
    app = create_app(bot_settings, bot_webhook_url=announced)
    manager = telegram.bot()  # stands in for the load balancer: points Telegram at this app
    try:
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await manager.get_webhook_info()).url == announced  # set at startup
            assert state.calls("setMyCommands")  # the dispatcher's startup ran
            await manager.set_webhook(f"{url}/telegram/webhook", secret_token=webhook_secret(token))
            state.user_says(USER, USER, "/help")
            reply = await state.wait_for_reply(USER)
            assert "What I can do" in reply.text

            missing = await client.post("/telegram/webhook", json=UPDATE)
            assert missing.status_code == 401 and SECRET_HEADER in error_of(missing)["message"]
            wrong = await client.post(
                "/telegram/webhook", json=UPDATE, headers={SECRET_HEADER: "0" * 64}
            )
            assert wrong.status_code == 401
            # Not ASCII: compare_digest on str would raise (a 500); it is a wrong secret.
            odd_secret = await client.post(
                "/telegram/webhook",
                json=UPDATE,
                headers={SECRET_HEADER.encode(): ("é" * 64).encode()},
            )
            assert odd_secret.status_code == 401
            odd = await client.post(
                "/telegram/webhook",
                json={"update_id": "x"},
                headers={SECRET_HEADER: webhook_secret(token)},
            )
            assert odd.status_code == 422 and "Telegram update" in error_of(odd)["message"]
    finally:
        await manager.session.close()


async def test_without_webhook_mode_the_route_is_off(anonymous) -> None:
    off = await anonymous.post("/telegram/webhook", json=UPDATE, headers={SECRET_HEADER: "0" * 64})
    assert off.status_code == 404 and "--bot-webhook-url" in error_of(off)["message"]
