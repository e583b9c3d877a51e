"""`lumabot` and its subcommands. Each feature adds its commands in its own cli module."""

from __future__ import annotations

import typer

from cli import admin, demo, parse, services, simulator

app = typer.Typer(
    help="Luma Event Intelligence Bot: guest management for Luma organizers, in Telegram.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin.register(app)
simulator.register(app)
demo.register(app)
services.register(app)
parse.register(app)


if __name__ == "__main__":
    app()
