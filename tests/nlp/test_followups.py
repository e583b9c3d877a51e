"""Follow-ups read against the previous turn (`nlp.followup` through `IntentParser`), offline.

Scored on the follow-up pairs of the corpus (corpus_followups.jsonl) and on the phrasings of
issue 21 (followup_pairs.jsonl): a pair counts only if the intent and every contract slot
match. Then the safety rules: a write inherits only by reference, never without a turn to
refer to, and the fake Gemini endpoint receives the previous turn in its prompt.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.settings import Settings
from nlp import GeminiParser, IntentParser, ParseContext
from nlp.corpus import Score, load_corpus
from nlp.followup import GUEST_INTENTS, PreviousTurn, follow_up
from nlp.intent import GuestStatus, IntentName, TargetStatus
from standins.gemini import FakeGemini, function_call
from tests.nlp.conftest import REPORT_KEY

HERE = Path(__file__).parent
CORPUS_PAIRS = HERE / "corpus_followups.jsonl"
ISSUE_PAIRS = HERE / "followup_pairs.jsonl"
# Every pair, the issue's and the corpus's, must be read right: the remembered guest of an
# answer about one person ("approve her") and dates moved from a range ("the month after").
MIN_CORPUS_ACCURACY = 1.0


def previous_of(row: dict[str, Any]) -> PreviousTurn:
    """A stored turn as the bot would have saved it; the event's name stands in for its id."""
    prev = row["previous"]
    intent = IntentName(prev["intent"])
    event = prev.get("event")
    return PreviousTurn(
        intent=intent,
        event=event,
        event_id=event,
        status=GuestStatus(prev["status"]) if prev.get("status") else None,
        domain=prev.get("domain"),
        tag=prev.get("tag"),
        city=prev.get("city"),
        date_from=date.fromisoformat(prev["date_from"]) if prev.get("date_from") else None,
        date_to=date.fromisoformat(prev["date_to"]) if prev.get("date_to") else None,
        guests=event is not None and intent in GUEST_INTENTS,
        email=prev.get("email"),
    )


async def score(path: Path, ctx: ParseContext) -> Score:
    parser, result = IntentParser(), Score()
    for row in load_corpus(path):
        with_turn = ParseContext.build(ctx.now, ctx.timezone, ctx.events, previous_of(row))
        got = await parser.parse(row["text"], with_turn)
        result.add(row, got.intent.public_dict())
    return result


async def test_the_issues_follow_ups_are_all_read_right(ctx: ParseContext) -> None:
    result = await score(ISSUE_PAIRS, ctx)
    assert result.total >= 30
    assert result.accuracy == 1.0, result.table()


async def test_the_corpus_follow_up_pairs(
    ctx: ParseContext, request: pytest.FixtureRequest
) -> None:
    result = await score(CORPUS_PAIRS, ctx)
    report = "follow-up pairs (corpus)\n" + result.table()
    previous = request.config.stash.get(REPORT_KEY, "")
    request.config.stash[REPORT_KEY] = f"{previous}\n{report}" if previous else report
    request.node.user_properties.append(("followup_accuracy", round(result.accuracy, 4)))
    assert result.accuracy >= MIN_CORPUS_ACCURACY, report


@pytest.mark.parametrize(
    "text", ["approve them", "decline them all", "approve those", "and approve the pending ones"]
)
def test_a_write_with_nothing_to_refer_to_asks(ctx: ParseContext, text: str) -> None:
    parsed = IntentParser()._offline.parse(text, ctx)
    assert follow_up(text, parsed, ctx).missing_context
    events_only = ParseContext.build(
        ctx.now, ctx.timezone, ctx.events, PreviousTurn(IntentName.LIST_EVENTS, city="Dubai")
    )
    assert follow_up(text, parsed, events_only).missing_context


def _after_gala_waitlist(ctx: ParseContext, intent: IntentName) -> ParseContext:
    """`ctx` after an answer (`intent`) about the Winter Gala's waitlisted guests from acme.com."""
    turn = PreviousTurn(
        intent,
        event="Winter Gala",
        event_id="evt-gala",
        status=GuestStatus.WAITLIST,
        domain="acme.com",
        guests=True,
    )
    return ParseContext.build(ctx.now, ctx.timezone, ctx.events, turn)


async def test_a_write_by_name_ignores_the_previous_turn(ctx: ParseContext) -> None:
    with_turn = _after_gala_waitlist(ctx, IntentName.LIST_GUESTS)
    got = await IntentParser().parse("approve everyone pending for the founders dinner", with_turn)
    assert got.followup is not None and not got.followup.used_context
    assert (got.intent.event, got.intent.status, got.intent.domain) == (
        "Founders Dinner",
        GuestStatus.PENDING_APPROVAL,
        None,
    )
    # A write without a reference does not pick the event up either: the bot asks which.
    bare = await IntentParser().parse("approve all pending", with_turn)
    assert bare.intent.event is None and bare.followup and bare.followup.event_id is None


async def test_a_reference_keeps_the_exact_event_and_filter(ctx: ParseContext) -> None:
    with_turn = _after_gala_waitlist(ctx, IntentName.COUNT_GUESTS)
    got = await IntentParser().parse("decline them", with_turn)
    assert got.followup is not None and got.followup.event_id == "evt-gala"
    assert got.intent.intent is IntentName.BULK_STATUS
    assert got.intent.target_status is TargetStatus.DECLINED
    assert (got.intent.status, got.intent.domain) == (GuestStatus.WAITLIST, "acme.com")


async def test_gemini_gets_the_previous_turn_and_cannot_move_a_write(
    fake_gemini: FakeGemini, ctx: ParseContext
) -> None:
    settings = Settings(gemini_api_key=SecretStr("test-key"), gemini_api_url=fake_gemini.url)
    gemini = GeminiParser.from_settings(settings, timeout=2.0)
    assert gemini is not None
    turn = PreviousTurn(
        IntentName.LIST_GUESTS,
        event="Founders Dinner",
        event_id="evt-dinner",
        status=GuestStatus.PENDING_APPROVAL,
        guests=True,
    )
    with_turn = ParseContext.build(ctx.now, ctx.timezone, ctx.events, turn)
    # Gemini names another event for "approve them": the remembered one stands.
    fake_gemini.queue(
        function_call(
            {"intent": "bulk_status", "event": "Winter Gala", "target_status": "approved"}
        )
    )
    try:
        got = await IntentParser(gemini).parse("approve them", with_turn)
    finally:
        await gemini.aclose()
    prompt = fake_gemini.requests[-1].body["systemInstruction"]["parts"][0]["text"]
    assert (
        "Previous turn" in prompt
        and "intent=list_guests, event=Founders Dinner, status=pending_approval" in prompt
    )
    assert "evt-dinner" not in prompt  # ids are ours, not the model's business
    assert got.source == "gemini" and got.followup is not None
    assert (got.intent.event, got.intent.status) == (
        "Founders Dinner",
        GuestStatus.PENDING_APPROVAL,
    )
    assert got.followup.event_id == "evt-dinner"


async def test_the_cache_keeps_turns_apart(ctx: ParseContext) -> None:
    parser = IntentParser()
    for event in ("Winter Gala", "Founders Dinner"):
        turn = PreviousTurn(IntentName.COUNT_GUESTS, event=event, event_id=event, guests=True)
        got = await parser.parse(
            "and the pending ones?", ParseContext.build(ctx.now, ctx.timezone, ctx.events, turn)
        )
        assert got.intent.event == event


async def test_gemini_cannot_give_a_write_the_remembered_event_implicitly(
    fake_gemini: FakeGemini, ctx: ParseContext
) -> None:
    settings = Settings(gemini_api_key=SecretStr("test-key"), gemini_api_url=fake_gemini.url)
    gemini = GeminiParser.from_settings(settings, timeout=2.0)
    assert gemini is not None
    turn = PreviousTurn(IntentName.COUNT_GUESTS, event="Winter Gala", event_id="g", guests=True)
    with_turn = ParseContext.build(ctx.now, ctx.timezone, ctx.events, turn)
    fake_gemini.queue(
        function_call(
            {
                "intent": "bulk_status",
                "event": "Winter Gala",
                "status": "pending_approval",
                "target_status": "approved",
            }
        )
    )
    try:
        got = await IntentParser(gemini).parse("approve all pending", with_turn)
    finally:
        await gemini.aclose()
    assert got.source == "gemini" and got.intent.event is None  # the bot asks which event
    assert got.intent.status is GuestStatus.PENDING_APPROVAL
