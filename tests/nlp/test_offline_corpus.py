"""The offline parser against organizer phrasings: accuracy per intent, >= 97% overall.

A phrasing counts as right only if the intent and every slot of the CLI contract match.
The follow-up pairs (a message that leans on the previous turn) are kept apart in
corpus_followups.jsonl: the offline parser reads one message alone, so they are scored by
the conversation-context tests, and here only checked for shape.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from nlp.context import ParseContext
from nlp.corpus import Score, load_corpus
from nlp.intent import PUBLIC_FIELDS, Intent, IntentName
from nlp.offline import OfflineParser
from tests.nlp.conftest import NOW, REPORT_KEY

CORPUS = Path(__file__).with_name("corpus.jsonl")
FOLLOWUPS = Path(__file__).with_name("corpus_followups.jsonl")
MIN_ACCURACY = 0.97
MIN_ROWS = 500
MIN_PER_INTENT = 8


def test_corpus_covers_every_intent() -> None:
    rows = load_corpus(CORPUS)
    counts = Counter(row["intent"] for row in rows)
    assert len(rows) >= MIN_ROWS
    assert {
        intent: counts[intent] for intent in IntentName if counts[intent] < MIN_PER_INTENT
    } == {}
    assert set(counts) <= set(IntentName)
    texts = Counter(row["text"] for row in rows)
    assert [text for text, seen in texts.items() if seen > 1] == []
    for row in rows:  # every expectation is itself a valid intent (no slot it would drop)
        slots = {key: value for key, value in row.items() if key != "text"}
        assert set(slots) <= set(PUBLIC_FIELDS), row
        kept = Intent.model_validate(
            {**slots, "target_status": slots.get("target_status")}
        ).public_dict()
        assert {key: value for key, value in kept.items() if value is not None} == slots, row


def test_followup_pairs_are_well_formed() -> None:
    rows = load_corpus(FOLLOWUPS)
    assert len(rows) >= 20
    for row in rows:
        assert set(row) <= {"previous", "text", *PUBLIC_FIELDS}, row
        Intent.model_validate({**row["previous"]})
        slots = {key: value for key, value in row.items() if key not in {"previous", "text"}}
        Intent.model_validate(slots)


def test_offline_accuracy(ctx: ParseContext, request: pytest.FixtureRequest) -> None:
    parser = OfflineParser()
    score = Score()
    for row in load_corpus(CORPUS):
        score.add(row, parser.parse(row["text"], ctx).public_dict())
    report = score.table()
    request.config.stash[REPORT_KEY] = report
    request.node.user_properties.append(("offline_accuracy", round(score.accuracy, 4)))
    assert score.accuracy >= MIN_ACCURACY, report


@pytest.mark.parametrize(
    ("text", "guest"),
    [
        ("Is Maria Lopez on the guest list for the winter gala?", "Maria Lopez"),
        ("approve Maria Lopez for the winter gala", "Maria Lopez"),
        ("find Tom Baker", "Tom Baker"),
        ("let bob in to the founders dinner", "bob"),
        ("did Priya Shah register for the founders dinner", "Priya Shah"),
    ],
)
def test_guest_named_without_email(ctx: ParseContext, text: str, guest: str) -> None:
    assert OfflineParser().parse(text, ctx).guest == guest


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("stats for the tokyo hackathon", "tokyo hackathon"),
        ("how many approved for 'Rooftop Party'?", "Rooftop Party"),
        ("who is pending for the Lisbon workshop", "Lisbon workshop"),
    ],
)
def test_unknown_event_keeps_the_users_words(text: str, event: str) -> None:
    bare = ParseContext(now=NOW, timezone="UTC")  # no org cache: nothing to match against
    assert OfflineParser().parse(text, bare).event == event


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🙂🙂",
        "''",
        "@",
        "approve",
        "events from 2026-12-10 to 2026-12-01",
        "show 99999 guests",
        "events in " + "x" * 300,
        "'" + "y" * 300 + "'",
        "İSTANBUL events",
    ],
)
def test_odd_input_still_parses(text: str, ctx: ParseContext) -> None:
    intent = OfflineParser().parse(text, ctx)
    if intent.date_from and intent.date_to:
        assert intent.date_from <= intent.date_to
