"""`lumabot parse` run as evaluation runs it: one JSON object with exactly the contract keys."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from cli.parse import register
from nlp.intent import PUBLIC_FIELDS
from standins.gemini import FakeGemini, function_call
from tests.nlp.conftest import EVENTS

LUMABOT = str(Path(sys.prefix) / "bin" / "lumabot")
NOW = "2026-11-25T10:00:00+00:00"


async def lumabot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GEMINI_")}
    return await asyncio.to_thread(
        subprocess.run,
        [LUMABOT, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.json"
    rows = [
        {"name": e.name, "city": e.city, "start_at": e.start_at.isoformat() if e.start_at else None}
        for e in EVENTS
    ]
    path.write_text(json.dumps(rows))
    return path


def output(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert list(parsed) == list(PUBLIC_FIELDS)
    return parsed


async def test_parse_offline_gemini_and_errors(
    tmp_path: Path, events_file: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.queue(function_call({"intent": "list_events", "city": "Lisbon", "limit": 2}))
    offline, no_key, gemini, bad_now = await asyncio.gather(
        lumabot(
            "parse",
            "approve everyone pending from @acme.com for the founders dinner",
            "--now", NOW, "--tz", "Europe/Lisbon", "--events-file", str(events_file), "--offline",
            cwd=tmp_path,
        ),
        lumabot("parse", "Show me events in Dubai next month", "--now", NOW, cwd=tmp_path),
        lumabot(
            "parse",
            "two lisbon things pls",
            "--now", NOW,
            cwd=tmp_path,
            GEMINI_API_KEY="AIzaFakeKeyForTheCli0123456789abcdefghi",
            GEMINI_API_URL=fake_gemini.url,
        ),
        lumabot("parse", "events", "--now", "2026-11-25T10:00:00", cwd=tmp_path),
    )  # fmt: skip
    assert output(offline) == {
        "intent": "bulk_status",
        "event": "Founders Dinner",
        "city": None,
        "date_from": None,
        "date_to": None,
        "status": "pending_approval",
        "email": None,
        "domain": "acme.com",
        "target_status": "approved",
        "limit": None,
    }
    no_key_output = output(no_key)
    assert (no_key_output["intent"], no_key_output["city"]) == ("list_events", "Dubai")
    assert (no_key_output["date_from"], no_key_output["date_to"]) == ("2026-12-01", "2026-12-31")
    assert no_key_output["event"] is None and no_key_output["limit"] is None
    assert output(gemini)["city"] == "Lisbon" and output(gemini)["limit"] == 2
    assert len(fake_gemini.requests) == 1
    assert bad_now.returncode == 2 and "offset" in bad_now.stderr


CORPUS = Path(__file__).with_name("corpus.jsonl")


async def test_parse_scores_a_corpus(tmp_path: Path, fake_gemini: FakeGemini) -> None:
    rows = [
        {"text": "sync", "intent": "sync"},
        {"text": "kick out everyone from spam.biz", "intent": "bulk_status",
         "domain": "spam.biz", "target_status": "declined"},
        {"text": "events in lisbon", "intent": "list_events", "city": "Paris"},  # wrong on purpose
    ]  # fmt: skip
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "corpus_context.json").write_text(
        json.dumps({"now": NOW, "timezone": "UTC", "events": []})
    )
    fake_gemini.queue(function_call({"intent": "sync"}))
    whole, with_gemini = await asyncio.gather(
        lumabot("parse", "--corpus", str(CORPUS), "--offline", cwd=tmp_path),
        lumabot(
            "parse", "--corpus", str(small), "--min-accuracy", "0",
            cwd=tmp_path,
            GEMINI_API_KEY="AIzaFakeKeyForTheCli0123456789abcdefghi",
            GEMINI_API_URL=fake_gemini.url,
        ),
    )  # fmt: skip
    assert whole.returncode == 0, whole.stdout + whole.stderr
    overall = whole.stdout.splitlines()[-1]
    right, total = map(int, overall.split()[1].split("/"))
    assert total >= 500 and right / total >= 0.97
    assert {line.split()[0] for line in whole.stdout.splitlines()} >= {"bulk_status", "unknown"}
    # Gemini scored the rows it answered; the rest fell back (the fake had one answer queued).
    assert with_gemini.returncode == 0, with_gemini.stderr
    assert "overall" in with_gemini.stdout and len(fake_gemini.requests) == 3


def test_parse_corpus_score_and_exit_status(tmp_path: Path) -> None:
    """The same command in-process, for its table, exit statuses and refusals."""
    rows = [
        {"text": "sync", "intent": "sync"},
        {"text": "who did we kick out of the gala?", "intent": "list_guests",
         "event": "gala", "status": "declined"},
        {"text": "events in lisbon", "intent": "list_events", "city": "Paris"},  # wrong on purpose
    ]  # fmt: skip
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(row) + "\n" for row in rows))
    context = tmp_path / "elsewhere.json"
    context.write_text(json.dumps({"now": NOW, "timezone": "UTC", "events": []}))
    app = typer.Typer()
    register(app)
    app.command("unused")(lambda: None)  # two commands: `parse` stays a subcommand
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, ["parse", *args, "--offline"])

    under = run("--corpus", str(small), "--context", str(context))
    assert under.exit_code == 1
    assert "overall          2/3   = 66.7%" in under.output
    assert "'events in lisbon': expected/got {'city': ('Paris', 'Lisbon')}" in under.output
    passing = run("--corpus", str(small), "--context", str(context), "--min-accuracy", "0.6")
    assert passing.exit_code == 0 and "list_guests      1/1" in passing.output
    no_context = run("--corpus", str(small))
    assert no_context.exit_code == 2 and "corpus_context.json" in no_context.output
    neither = run()
    assert neither.exit_code == 2 and "--corpus" in neither.output
    both = run("sync", "--corpus", str(small))
    assert both.exit_code == 2
