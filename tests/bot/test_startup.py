"""`lumabot bot` when Telegram is not ready at start-up: it waits, retries, and then answers."""

from __future__ import annotations

import asyncio
import gc
import logging

from bot.app import run_polling
from core.settings import Settings
from tests.conftest import eventually


async def test_getme_refused_at_start_up_is_retried_and_the_bot_answers(
    services, temporal_env, db_url, encryption_keys, caplog
) -> None:
    state = services.api.state
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        encryption_keys=encryption_keys,
        temporal_address=temporal_env.client.service_client.config.target_host,
        bot_token=state.default_bot.token,
        telegram_api_url=services.api.base_url,
    )
    stop = asyncio.Event()
    state.unsupported.add("getMe")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.app"):
            task = asyncio.create_task(run_polling(settings, stop))
            await eventually(lambda: "Telegram did not answer getMe" in caplog.text, timeout=30)
            assert not task.done()  # not fatal: it waits and asks again
            state.unsupported.discard("getMe")
            user = 1_980_000_000 + id(task) % 1_000_000
            state.add_user(user, first_name="Early")
            state.user_says(user, user, "/help")
            reply = await state.wait_for_reply(user, timeout=30)
            assert reply.text.startswith("What I can do")
    finally:
        state.unsupported.discard("getMe")
        stop.set()
        await asyncio.wait_for(task, 30)
        gc.unfreeze()  # `run_polling` froze what existed, for a long-lived bot
        account = state.default_bot
        account.confirm(account.next_update_id)  # the next test's poller starts clean
