"""Plain language about people: the tag slot of bulk writes, and Gemini held to it."""

from __future__ import annotations

from typing import Any

import pytest

from nlp import FallbackReason, IntentName, OfflineParser, ParseContext
from standins.gemini import FakeGemini, function_call
from tests.nlp import conftest as nlp_fixtures
from tests.nlp.test_gemini import parse_with

# The nlp tests' fixtures, reused as they are.
ctx, fake_gemini, _running_gemini, gemini = (
    nlp_fixtures.ctx,
    nlp_fixtures.fake_gemini,
    nlp_fixtures._running_gemini,
    nlp_fixtures.gemini,
)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("approve all pending tagged vip", "vip"),
        ("approve everyone tagged #speaker for the main conference", "speaker"),
        ("decline all waitlisted guests labelled press for the winter gala", "press"),
        ("approve all pending VIPs for the founders dinner", "vip"),
        ("approve everyone pending for the founders dinner", None),
    ],
)
def test_bulk_writes_read_the_tag(text: str, tag: str | None, ctx: ParseContext) -> None:
    intent = OfflineParser().parse(text, ctx)
    assert (intent.intent, intent.tag) == (IntentName.BULK_STATUS, tag)
    assert "tag" not in intent.public_dict()  # the CLI contract is unchanged


def test_reads_never_carry_a_tag(ctx: ParseContext) -> None:
    intent = OfflineParser().parse("who is tagged vip for the founders dinner", ctx)
    assert intent.tag is None and not intent.is_write


@pytest.mark.parametrize(
    ("reply", "fallback"),
    [
        ({"intent": "bulk_status", "target_status": "approved", "status": "pending_approval"},
         FallbackReason.UNSAFE_WRITE),  # the tag dropped: would approve every pending guest
        ({"intent": "bulk_status", "target_status": "approved", "status": "pending_approval",
          "tag": "speaker"}, FallbackReason.UNSAFE_WRITE),
        ({"intent": "bulk_status", "target_status": "approved", "status": "pending_approval",
          "tag": "#VIP"}, None),
    ],
)  # fmt: skip
async def test_gemini_keeps_the_written_tag(
    reply: dict[str, Any], fallback: FallbackReason | None, fake_gemini: FakeGemini, gemini, ctx
) -> None:
    text = "approve all pending tagged vip for the founders dinner"
    result = await parse_with(function_call(reply), fake_gemini, gemini, text, ctx)
    assert result.fallback_reason is fallback
    assert (result.intent.intent, result.intent.tag) == (IntentName.BULK_STATUS, "vip")
