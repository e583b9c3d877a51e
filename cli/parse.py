"""`lumabot parse`: what the bot would understand from one message, as one JSON object.

Used by tests and evaluation, and handy when an organizer reports "the bot misread me".
Gemini is used when GEMINI_API_KEY is set (and `--offline` is not given); the CLI counts
no quota. With `--corpus FILE` (JSON Lines of phrasings with their expected intent and
slots) it parses every phrasing instead and prints the score per intent, as the corpus test
and `make bench` do; the exit status is 1 when fewer than `--min-accuracy` are fully right.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from cli.context import load_settings

if TYPE_CHECKING:
    from nlp.context import KnownEvent, ParseContext
    from nlp.corpus import Score
    from nlp.parser import IntentParser


def parse(
    text: Annotated[
        str | None, typer.Argument(help="The message, as the organizer wrote it.")
    ] = None,
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
    corpus: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Score every phrasing of this JSON Lines corpus instead of parsing TEXT.",
        ),
    ] = None,
    context: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='With --corpus: {"now", "timezone", "events"} the corpus was written against '
            "(default: corpus_context.json beside it).",
        ),
    ] = None,
    min_accuracy: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --corpus: the share to reach.")
    ] = 0.97,
) -> None:
    """Print the intent and slots parsed from TEXT as JSON (or score a --corpus)."""
    # The NLU stack (google-genai) is heavy: imported only when this command runs.
    from nlp.context import ParseContext
    from nlp.gemini import GeminiParser
    from nlp.parser import IntentParser

    if (text is None) == (corpus is None):
        raise typer.BadParameter("give either TEXT or --corpus FILE", param_hint="TEXT")
    gemini = None if offline else GeminiParser.from_settings(load_settings())
    if corpus is not None:
        ctx = _corpus_context(corpus, context)
        score = asyncio.run(_score(IntentParser(gemini), corpus, ctx))
        typer.echo(score.table())
        raise typer.Exit(0 if score.accuracy >= min_accuracy else 1)
    assert text is not None
    ctx = ParseContext.build(_now(now), _zone(tz), _events(events_file))
    result = asyncio.run(_parse(IntentParser(gemini), text, ctx))
    typer.echo(json.dumps(result, ensure_ascii=False))


async def _parse(parser: IntentParser, text: str, ctx: ParseContext) -> dict[str, object]:
    try:
        return (await parser.parse(text, ctx)).intent.public_dict()
    finally:
        await parser.aclose()


async def _score(parser: IntentParser, corpus: Path, ctx: ParseContext) -> Score:
    from nlp.corpus import Score, load_corpus

    score = Score()
    try:
        for row in _rows(corpus, load_corpus):
            score.add(row, (await parser.parse(row["text"], ctx)).intent.public_dict())
    finally:
        await parser.aclose()
    return score


def _rows(corpus: Path, load: Callable[[Path], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        rows = load(corpus)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON Lines: {exc}", param_hint="--corpus") from None
    if bad := next((row for row in rows if "text" not in row or "intent" not in row), None):
        raise typer.BadParameter(f"a row without text or intent: {bad}", param_hint="--corpus")
    return rows


def _corpus_context(corpus: Path, given: Path | None) -> ParseContext:
    from nlp.corpus import CONTEXT_FILE, load_context

    path = given or corpus.with_name(CONTEXT_FILE)
    if not path.is_file():
        raise typer.BadParameter(
            f"no {CONTEXT_FILE} beside the corpus: give --context", param_hint="--context"
        )
    try:
        return load_context(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise typer.BadParameter(
            f'expected {{"now", "timezone", "events"}}: {exc}', param_hint="--context"
        ) from None


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
