"""Long-running services: `lumabot worker` (later also the bot and the API)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import load_settings, run
from core.settings import ConfigError


def worker() -> None:
    """Run the Temporal worker: every workflow and activity, until SIGTERM or Ctrl-C."""
    from worker import run_worker  # heavy imports only for this command

    settings = load_settings()
    try:
        run(run_worker(settings))
    except RuntimeError as exc:
        if "connect" not in str(exc).lower():
            raise
        typer.secho(
            f"Cannot reach Temporal at {settings.temporal_address}: start it with `make demo` "
            "or set TEMPORAL_ADDRESS.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1) from None


def bot() -> None:
    """Run the Telegram bot with long polling, until SIGTERM or Ctrl-C."""
    from bot.app import run_polling  # heavy imports only for this command

    settings = load_settings()
    try:
        run(run_polling(settings))
    except ConfigError as exc:
        typer.secho(f"Configuration problem: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except RuntimeError as exc:
        if "connect" not in str(exc).lower():
            raise
        typer.secho(
            f"Cannot reach Temporal at {settings.temporal_address}: start it with `make demo` "
            "or set TEMPORAL_ADDRESS.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1) from None


def api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    bot_webhook_url: Annotated[
        str | None,
        typer.Option(
            help="Public URL of this API's /telegram/webhook: the bot then runs here in "
            "webhook mode (instead of `lumabot bot`)."
        ),
    ] = None,
) -> None:
    """Run the control API (OpenAPI docs at /docs)."""
    import uvicorn  # heavy imports only for this command

    from api.main import create_app

    settings = load_settings()
    app = create_app(settings, bot_webhook_url=bot_webhook_url)
    # log_config=None keeps our logging, whose record factory redacts secrets.
    uvicorn.run(app, host=host, port=port, log_config=None)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("bot")(bot)
    app.command("api")(api)
