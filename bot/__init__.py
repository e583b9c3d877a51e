"""The Telegram bot: aiogram routers, middlewares, keyboards."""
