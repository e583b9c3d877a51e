"""Creating the aiogram `Bot` for a Bot API server (Telegram's, or a local stand-in)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

DEFAULT_API = "https://api.telegram.org"


def create_bot(token: str, api_url: str = DEFAULT_API) -> Bot:
    """Every text we send is HTML, with user-supplied parts escaped by the caller."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
