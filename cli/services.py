"""Long-running services: `lumabot worker` (later also the bot and the API)."""

from __future__ import annotations

import typer

from cli.context import load_settings, run


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


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
