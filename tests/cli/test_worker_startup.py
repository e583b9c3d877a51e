"""`lumabot worker` without a bot: said loudly at start-up, and nothing claims a post."""

from __future__ import annotations

import logging

from core.settings import Settings
from worker import worker_clients


async def test_a_worker_without_bot_token_warns_at_start_up(db_url, encryption_keys, caplog):
    settings = Settings(_env_file=None, database_url=db_url, encryption_keys=encryption_keys)
    with caplog.at_level(logging.WARNING, logger="lumabot.worker"):
        async with worker_clients(settings) as clients:
            assert clients.bot is None
    [warning] = [r for r in caplog.records if r.name == "lumabot.worker"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith(
        "BOT_TOKEN is not set: no digest, summary or job report will reach Telegram"
    )
