"""`lumabot` and its subcommands. Each feature adds its commands in its own cli module."""

from __future__ import annotations

import logging
import os
import sys

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


def main() -> None:
    """The `lumabot` console script: run the command, flush its output, then end the process
    without interpreter teardown. The Temporal SDK's Rust threads can otherwise call into a
    finalizing interpreter and abort a cleanly stopped worker with SIGABRT
    (temporalio/sdk-python#300)."""
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exit_code(exc.code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def exit_code(code: object) -> int:
    """What `sys.exit(code)` would have ended the process with."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()
