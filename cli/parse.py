"""`lumabot parse`: what the bot would understand from one message, as one JSON object.

Used by tests and evaluation, and handy when an organizer reports "the bot misread me".
Gemini is used when GEMINI_API_KEY is set (and `--offline` is not given); the CLI counts
no quota.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from cli.context import load_settings

if TYPE_CHECKING:
    from nlp.context import KnownEvent, ParseContext
    from nlp.parser import IntentParser


def parse(
    text: Annotated[str, typer.Argument(help="The message, as the organizer wrote it.")],
    now: Annotated[
        str | None,
        typer.Option(help="ISO 8601 time with offset to resolve dates against (default: now)."),
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="The chat's IANA time zone.")] = "UTC",
    events_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='JSON list of {"name", "city", "start_at"}, standing in for the org cache.',
        ),
    ] = None,
    offline: Annotated[bool, typer.Option(help="Use only the offline parser.")] = False,
) -> None:
    """Print the intent and slots parsed from TEXT as JSON."""
    # The NLU stack (google-genai) is heavy: imported only when this command runs.
    from nlp.context import ParseContext
    from nlp.gemini import GeminiParser
    from nlp.parser import IntentParser

    ctx = ParseContext.build(_now(now), _zone(tz), _events(events_file))
    gemini = None if offline else GeminiParser.from_settings(load_settings())
    result = asyncio.run(_parse(IntentParser(gemini), text, ctx))
    typer.echo(json.dumps(result, ensure_ascii=False))


async def _parse(parser: IntentParser, text: str, ctx: ParseContext) -> dict[str, object]:
    try:
        return (await parser.parse(text, ctx)).intent.public_dict()
    finally:
        await parser.aclose()


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--now") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            "give an offset, e.g. 2026-11-25T10:00:00+00:00", param_hint="--now"
        )
    return moment


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {name!r}", param_hint="--tz") from None
    return name


def _events(path: Path | None) -> list[KnownEvent]:
    if path is None:
        return []
    try:
        from nlp.context import KnownEvent

        return [KnownEvent.from_mapping(item) for item in json.loads(path.read_text())]
    except (ValueError, KeyError, TypeError) as exc:
        raise typer.BadParameter(
            f"expected a JSON list of {{name, city, start_at}}: {exc}", param_hint="--events-file"
        ) from None


def register(app: typer.Typer) -> None:
    app.command("parse")(parse)
