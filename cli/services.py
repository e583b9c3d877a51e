"""Long-running services: `lumabot worker`, `bot`, `api`, and `up` (all three in one)."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from cli.context import load_settings, run
from core.settings import ConfigError, Settings


@contextmanager
def plain_exits(settings: Settings) -> Iterator[None]:
    """An unreachable Temporal or a missing setting ends the command with one sentence."""
    try:
        yield
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


def worker() -> None:
    """Run the Temporal worker: every workflow and activity, until SIGTERM or Ctrl-C."""
    from worker import run_worker  # heavy imports only for this command

    settings = load_settings()
    with plain_exits(settings):
        run(run_worker(settings))


def bot() -> None:
    """Run the Telegram bot with long polling, until SIGTERM or Ctrl-C."""
    from bot.app import run_polling  # heavy imports only for this command

    settings = load_settings()
    with plain_exits(settings):
        run(run_polling(settings), on_uvloop=True)


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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes sharing the port (default API_WORKERS, 1): one per core "
            "for a busy API. Their limits and metrics are shared.",
        ),
    ] = None,
) -> None:
    """Run the control API (OpenAPI docs at /docs)."""
    import uvicorn  # heavy imports only for this command

    settings = load_settings()
    processes = workers or settings.api_workers
    if processes == 1:
        from api.main import create_app  # worker processes import it themselves, in parallel

        app = create_app(settings, bot_webhook_url=bot_webhook_url)
        # log_config=None keeps our logging, whose record factory redacts secrets.
        uvicorn.run(app, host=host, port=port, log_config=None)
        return
    if bot_webhook_url:
        raise typer.BadParameter(
            "the bot's webhook runs in a single API process: leave out --workers (or run "
            "the bot with `lumabot bot`)",
            param_hint="--workers",
        )
    with shared_metrics(settings):
        uvicorn.run(
            "api.main:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_config=None,
        )


@contextmanager
def shared_metrics(settings: Settings) -> Iterator[None]:
    """Worker processes count into files of one folder (prometheus_client's multiprocess
    mode, PROMETHEUS_MULTIPROC_DIR), and this supervisor serves METRICS_PORT for them all."""
    from core.metrics import SERVED_BY_SUPERVISOR, metrics_served

    with tempfile.TemporaryDirectory(prefix="lumabot-metrics-") as folder:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", folder)
        with metrics_served(settings.metrics_port, settings.metrics_host):
            os.environ[SERVED_BY_SUPERVISOR] = "1"  # for the workers it starts
            yield


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("bot")(bot)
    app.command("api")(api)
    app.command("up")(up)


def up(
    host: Annotated[str, typer.Option(help="Interface for the control API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the control API.")] = 8000,
) -> None:
    """Worker, bot and control API in one process, for small production installs."""
    settings = load_settings()
    with plain_exits(settings):
        run(_up(settings, host, port))


async def _up(settings: Settings, host: str, port: int) -> None:
    from api.main import create_app  # heavy imports only for this command
    from bot.app import run_polling
    from core.http_server import serving
    from worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serving(create_app(settings), host=host, port=port) as url:
        typer.echo(f"Control API on {url}; worker and bot running. Ctrl-C stops all three.")
        parts = [
            asyncio.create_task(run_worker(settings, stop)),
            asyncio.create_task(run_polling(settings, stop)),
        ]
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([*parts, stopped], return_when=asyncio.FIRST_COMPLETED)
        stop.set()  # one part ending (or failing) ends the others
        results = await asyncio.gather(*parts, return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise failures[0]
