"""Helpers the commands share: settings, logging, the database engine, the key box."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from core.logs import configure_logging
from core.settings import ConfigError, Settings, get_settings
from store.crypto import KeyBox

T = TypeVar("T")


def load_settings() -> Settings:
    """Settings with logging configured, or a plain-words exit when they are unusable."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        typer.secho(f"Configuration problem: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.secret_values(), settings.log_format.value)
    return settings


def keybox_for(settings: Settings) -> KeyBox:
    return KeyBox(settings.resolved_encryption_keys())


def run(coro: Coroutine[Any, Any, T], *, on_uvloop: bool = False) -> T:
    """Run a command's coroutine. `on_uvloop` for the bot: uvloop's loop costs it about 7%
    less CPU a message (bench/bot.py); the worker stays on asyncio's, which the Temporal
    SDK is tested on."""
    if on_uvloop:
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def require_standins(command: str) -> None:
    """The demo and the simulator run on the local stand-ins, which only a source checkout
    has (the production image leaves `standins/` out): say so instead of a traceback."""
    import importlib.util

    if importlib.util.find_spec("standins") is None:
        typer.secho(
            f"`lumabot {command}` needs the local stand-ins (standins/), which only a source "
            "checkout has; the production image leaves them out.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
