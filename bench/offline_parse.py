"""Benchmark: the offline (no Gemini) parser's time per message over the test corpus.

The offline parser answers when Gemini is off, slow or failing, inside the bot's update
handling, so it must take milliseconds. The target is 5 ms a message; the ratio printed is
the measured mean over that target (after a warm-up message, since dateparser loads its
language data on first use).

    .venv/bin/python -m bench.offline_parse
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from nlp.context import ParseContext
from nlp.offline import OfflineParser
from tests.nlp.conftest import EVENTS, NOW, TIMEZONE

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "nlp" / "corpus.jsonl"
TARGET_SECONDS = 0.005
ROUNDS = 3


def main() -> None:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines() if line.strip()]
    ctx = ParseContext(now=NOW, timezone=TIMEZONE, events=EVENTS)  # as the corpus test
    parser = OfflineParser()
    parser.parse(texts[0], ctx)  # warm-up
    means = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for text in texts:
            parser.parse(text, ctx)
        means.append((time.perf_counter() - started) / len(texts))
    best = min(means)
    ratio = best / TARGET_SECONDS
    print(
        f"offline parse, {len(texts)} corpus messages: best of {ROUNDS} "
        f"{best * 1000:.2f} ms a message vs target {TARGET_SECONDS * 1000:.0f} ms "
        f"= {ratio:.3f}x (target <= 1.0x)"
    )
    sys.exit(0 if ratio <= 1.0 else 1)


if __name__ == "__main__":
    main()
