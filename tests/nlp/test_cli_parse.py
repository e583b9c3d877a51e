"""`lumabot parse` run as evaluation runs it: one JSON object with exactly the contract keys."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
