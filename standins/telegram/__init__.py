"""A local stand-in for Telegram's Bot API, for tests and the offline demo.

The bot's code is the same as in production; only `TELEGRAM_API_URL` points here. Tests play
the users through `BotApiState` (`user_says`, `user_presses`) and assert on what the bot sent
(`wait_for_bot_message`, `documents`, `calls`); the demo console does the same over `/_local/`.
"""

from standins.telegram.app import create_app
from standins.telegram.errors import ApiError
from standins.telegram.media import StoredFile
from standins.telegram.server import LocalBotApi, running_local_api, serve
from standins.telegram.state import DEFAULT_TOKEN, ApiCall, BotApiState, BotEvent, ChatMessage

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "ApiError",
    "BotApiState",
    "BotEvent",
    "ChatMessage",
    "LocalBotApi",
    "StoredFile",
    "create_app",
    "running_local_api",
    "serve",
]
