"""Scoring a parser against a corpus of organizer phrasings, the same way everywhere.

A corpus is JSON Lines: one phrasing a line, `{"text": ..., "intent": ..., <slots>}`, with
the slots of the CLI contract (`Intent.public_dict`) that are not empty. A phrasing is right
only if the intent and every contract slot match. The "now", time zone and event list the
expected slots were written against live beside it in a context file
(`{"now", "timezone", "events": [{"name", "city", "start_at"}]}`).

The corpus test, `lumabot parse --corpus` and `bench/offline_parse.py` all score with this
module, so the numbers they print are the same numbers.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nlp.context import KnownEvent, ParseContext
from nlp.intent import PUBLIC_FIELDS

CONTEXT_FILE = "corpus_context.json"  # the default context file, beside the corpus


def load_corpus(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON Lines corpus (blank lines skipped)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_context(path: Path) -> ParseContext:
    """The parse context a corpus was written against."""
    data = json.loads(path.read_text())
    return ParseContext.build(
        datetime.fromisoformat(data["now"]),
        data.get("timezone", "UTC"),
        [KnownEvent.from_mapping(item) for item in data.get("events", [])],
    )


def expected(row: dict[str, Any]) -> dict[str, Any]:
    """The contract dict a row expects: its slots, null for every slot it leaves out."""
    return {key: row.get(key) for key in PUBLIC_FIELDS}


@dataclass
class Score:
    """Fully right phrasings per expected intent, and what the wrong ones got."""

    totals: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    def add(self, row: dict[str, Any], got: dict[str, Any]) -> bool:
        """Count one phrasing; `got` is the parser's `Intent.public_dict()`."""
        want = expected(row)
        self.totals[row["intent"]] += 1
        if got == want:
            self.right[row["intent"]] += 1
            return True
        diff = {key: (value, got.get(key)) for key, value in want.items() if got.get(key) != value}
        self.misses.append(f"  {row['text']!r}: expected/got {diff}")
        return False

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def correct(self) -> int:
        return sum(self.right.values())

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def table(self, *, misses: bool = True) -> str:
        """Per intent "right/total", the overall share, then each miss (if asked)."""
        lines = [
            f"{intent:<14} {self.right[intent]:>3}/{self.totals[intent]:<3}"
            for intent in sorted(self.totals)
        ]
        lines.append(f"{'overall':<14} {self.correct:>3}/{self.total:<3} = {self.accuracy:.1%}")
        return "\n".join([*lines, *(self.misses if misses else [])])
