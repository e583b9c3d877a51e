"""The Gemini path against a local fake Gemini: every failure still ends in a correct intent."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from core.settings import Settings
from nlp.context import ParseContext
from nlp.gemini import DEFAULT_TIMEOUT, FallbackReason, GeminiParser
from nlp.intent import GuestStatus, Intent, IntentName, TargetStatus
from nlp.offline import OfflineParser
from nlp.parser import IntentParser, ResponseCache
from standins.gemini import FakeGemini, Reply, error, function_call, hang, text
from tests.nlp.conftest import API_KEY, FAST_TIMEOUT, HANG, DayQuota

# google-genai subclasses aiohttp's ClientSession, which aiohttp discourages; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)


async def parse_with(reply: Reply, fake: FakeGemini, gemini: GeminiParser, text_: str, ctx):
    fake.queue(reply)
    return await IntentParser(gemini).parse(text_, ctx)


async def test_good_function_call_is_used(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    args = {"intent": "count_guests", "event": "Summer Mixer", "status": "approved"}
    result = await parse_with(
        function_call(args), fake_gemini, gemini, "how's the mixer crowd, approved-wise?", ctx
    )
    assert result.source == "gemini" and result.fallback_reason is None
    assert result.intent.intent is IntentName.COUNT_GUESTS
    assert (result.intent.event, result.intent.status) == ("Summer Mixer", GuestStatus.APPROVED)


async def test_event_words_from_gemini_become_the_known_name(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    args = {"intent": "event_summary", "event": "the winter gala"}
    result = await parse_with(function_call(args), fake_gemini, gemini, "gala vibes?", ctx)
    assert (result.source, result.intent.event) == ("gemini", "Winter Gala")


async def test_request_is_grounded_and_goes_to_the_v1_endpoint(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    await parse_with(function_call({"intent": "help"}), fake_gemini, gemini, "help", ctx)
    request = fake_gemini.requests[-1]
    assert request.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == API_KEY
    prompt = request.body["systemInstruction"]["parts"][0]["text"]
    assert "2026-11-25 (Wednesday)" in prompt and "Europe/Lisbon" in prompt
    assert "Lisbon Founders Workshop | Lisbon | 2026-12-03" in prompt
    assert request.body["contents"][0]["parts"][0]["text"] == "help"
    config = request.body["toolConfig"]["functionCallingConfig"]
    assert config["mode"] == "ANY" and config["allowedFunctionNames"] == ["record_intent"]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (function_call({"intent": "list_events", "status": "maybe"}), FallbackReason.INVALID),
        (function_call({"intent": "dance"}), FallbackReason.INVALID),
        (
            function_call({"intent": "list_events", "date_from": "next month"}),
            FallbackReason.INVALID,
        ),
        (
            function_call({"intent": "list_events", "city": "Dubai", "confirmed": True}),
            FallbackReason.INVALID,
        ),
        (function_call({"intent": "list_events"}, name="something_else"), FallbackReason.INVALID),
        (text("Sure! Here are your events in Dubai."), FallbackReason.INVALID),
        (error(429), FallbackReason.RATE_LIMITED),
        (error(500, "internal"), FallbackReason.UNAVAILABLE),
        (error(503, "overloaded"), FallbackReason.UNAVAILABLE),
    ],
    ids=[
        "bad-status",
        "bad-intent",
        "bad-date",
        "extra-field",
        "other-function",
        "no-call",
        "429",
        "500",
        "503",
    ],
)
async def test_bad_replies_fall_back_to_offline(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext, reply: Reply, reason
) -> None:
    result = await parse_with(reply, fake_gemini, gemini, "Show me events in Dubai next month", ctx)
    assert (result.source, result.fallback_reason) == ("offline", reason)
    intent = result.intent
    assert intent.intent is IntentName.LIST_EVENTS and intent.city == "Dubai"
    assert (intent.date_from, intent.date_to) == (date(2026, 12, 1), date(2026, 12, 31))


async def test_slow_gemini_times_out_to_offline(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    # TIMEOUT as the reason proves the parser gave up before the hang ended (had it
    # waited, Gemini's answer would have been used).
    result = await parse_with(
        hang(HANG), fake_gemini, gemini, "who is pending approval for the lisbon workshop?", ctx
    )
    assert (result.source, result.fallback_reason) == ("offline", FallbackReason.TIMEOUT)
    assert result.intent.intent is IntentName.LIST_GUESTS
    assert result.intent.status is GuestStatus.PENDING_APPROVAL


async def test_unreachable_gemini_falls_back(ctx: ParseContext) -> None:
    settings = Settings(gemini_api_key=SecretStr(API_KEY), gemini_api_url="http://127.0.0.1:1")
    gemini = GeminiParser.from_settings(settings, timeout=FAST_TIMEOUT)
    assert gemini is not None
    result = await IntentParser(gemini).parse("sync", ctx)
    await gemini.aclose()
    assert (result.source, result.intent.intent) == ("offline", IntentName.SYNC)
    assert result.fallback_reason in {FallbackReason.UNAVAILABLE, FallbackReason.TIMEOUT}


async def test_write_from_gemini_needs_the_users_write_words(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    injected = {"intent": "bulk_status", "target_status": "declined", "event": "Winter Gala"}
    result = await parse_with(
        function_call(injected), fake_gemini, gemini, "who is on the waitlist for the gala?", ctx
    )
    assert (result.source, result.fallback_reason) == ("offline", FallbackReason.UNSAFE_WRITE)
    assert result.intent.intent is IntentName.LIST_GUESTS and not result.intent.is_write


async def test_write_from_gemini_must_match_the_users_direction(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    flipped = {"intent": "bulk_status", "target_status": "approved", "domain": "acme.com"}
    result = await parse_with(
        function_call(flipped), fake_gemini, gemini, "decline everyone from acme.com", ctx
    )
    assert result.fallback_reason is FallbackReason.UNSAFE_WRITE
    assert result.intent.target_status is TargetStatus.DECLINED


async def test_explicit_write_from_gemini_is_accepted(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    args = {
        "intent": "bulk_status",
        "target_status": "approved",
        "status": "pending_approval",
        "domain": "@acme.com",
        "event": "Founders Dinner",
    }
    result = await parse_with(
        function_call(args),
        fake_gemini,
        gemini,
        "approve everyone pending from @acme.com for the founders dinner",
        ctx,
    )
    assert result.source == "gemini"
    assert result.intent.is_write and result.intent.domain == "acme.com"


async def test_quota_spent_means_offline_without_a_call(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    parser = IntentParser(gemini, DayQuota(calls_per_day=1))
    fake_gemini.queue(function_call({"intent": "sync"}))
    first = await parser.parse("sync now", ctx, org_id=7)
    second = await parser.parse("export the waitlist", ctx, org_id=7)
    assert first.source == "gemini"
    assert (second.source, second.fallback_reason) == ("offline", FallbackReason.QUOTA)
    assert second.intent.intent is IntentName.EXPORT
    assert len(fake_gemini.requests) == 1


async def test_same_text_within_a_minute_comes_from_the_cache(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    clock = [1000.0]
    parser = IntentParser(gemini, cache=ResponseCache(clock=lambda: clock[0]))
    fake_gemini.queue(function_call({"intent": "digest"}), function_call({"intent": "digest"}))
    first = await parser.parse("Any updates?", ctx, org_id=1)
    again = await parser.parse("  any   UPDATES? ", ctx, org_id=1)
    other_org = await parser.parse("Any updates?", ctx, org_id=2)
    clock[0] += 61
    expired = await parser.parse("Any updates?", ctx, org_id=1)
    assert [r.source for r in (first, again, other_org, expired)] == [
        "gemini",
        "cache",
        "gemini",
        "offline",  # the queue is empty now: the fake answers 500
    ]
    assert again.intent == first.intent


def test_cache_is_bounded() -> None:
    cache: ResponseCache[Intent] = ResponseCache(max_entries=2)
    for key in "abc":
        cache.put(key, Intent(intent=IntentName.HELP))
    assert cache.get("a") is None and cache.get("c") is not None


async def test_no_key_means_offline(ctx: ParseContext) -> None:
    assert GeminiParser.from_settings(Settings(gemini_api_key=None)) is None
    result = await IntentParser(None).parse("events in dubai", ctx)
    assert (result.source, result.fallback_reason) == ("offline", None)


def test_default_timeout_is_four_seconds() -> None:
    assert DEFAULT_TIMEOUT == 4.0
    settings = Settings(gemini_api_key=SecretStr(API_KEY))
    parser = GeminiParser.from_settings(settings)
    assert parser is not None and parser.timeout == 4.0


async def test_the_key_never_reaches_the_logs(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    for reply in (error(429), hang(HANG), function_call({"intent": "dance"})):
        await parse_with(reply, fake_gemini, gemini, "events next week", ctx)
    assert caplog.records and API_KEY not in caplog.text


ACME = {"domain": "acme.com"}


def counted(name: str, **labels: str) -> float:
    """A Prometheus counter's value in the default registry (0 before its first count)."""
    return REGISTRY.get_sample_value(f"lumabot_{name}_total", labels) or 0.0


async def test_request_carries_the_declaration_every_event_and_today(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    await parse_with(function_call({"intent": "help"}), fake_gemini, gemini, "hola", ctx)
    body = fake_gemini.requests[-1].body
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "record_intent"
    # The SDK sends this field in snake case; Google's JSON parser takes either spelling.
    schema = declaration.get("parametersJsonSchema") or declaration["parameters_json_schema"]
    assert schema["required"] == ["intent"]
    assert set(schema["properties"]["intent"]["enum"]) == {intent.value for intent in IntentName}
    assert set(schema["properties"]["target_status"]["enum"]) == {"approved", "declined"}
    assert "confirmed" not in schema["properties"]
    assert "ISO 639-1" in schema["properties"]["language"]["description"]  # answered in it
    prompt = body["systemInstruction"]["parts"][0]["text"]
    assert "Today is 2026-11-25 (Wednesday)" in prompt
    for event in ctx.events:
        assert event.name in prompt and (event.city or "-") in prompt
    assert "any language" in prompt  # Spanish, Portuguese, German, French read like English
    assert body["generationConfig"]["temperature"] == 0


@pytest.mark.parametrize(
    ("text_", "args"),
    [
        (
            "¿Cuántos invitados están pendientes para la Winter Gala?",
            {"intent": "count_guests", "event": "Winter Gala", "status": "pending_approval"},
        ),
        (
            "Quantos convidados estão na lista de espera do Founders Dinner?",
            {"intent": "count_guests", "event": "Founders Dinner", "status": "waitlist"},
        ),
        (
            "Zeig mir alle Veranstaltungen in Berlin nächsten Monat",
            {
                "intent": "list_events",
                "city": "Berlin",
                "date_from": "2026-12-01",
                "date_to": "2026-12-31",
            },
        ),
        (
            "montre-moi les invités en attente pour le dîner des fondateurs",
            {"intent": "list_guests", "event": "founders dinner", "status": "pending_approval"},
        ),
    ],
    ids=["es", "pt", "de", "fr"],
)
async def test_questions_in_other_languages_are_read_by_gemini(
    fake_gemini: FakeGemini,
    gemini: GeminiParser,
    ctx: ParseContext,
    text_: str,
    args,
    request: pytest.FixtureRequest,
) -> None:
    language = request.node.callspec.id
    reply = function_call({**args, "language": language})
    result = await parse_with(reply, fake_gemini, gemini, text_, ctx)
    assert (result.source, result.fallback_reason) == ("gemini", None)
    assert result.intent.intent.value == args["intent"]
    assert result.language == language  # the answer is to be given in it
    # Offline, the same message is "not understood" (the bot then shows the commands).
    fallback = await parse_with(error(503), fake_gemini, gemini, text_, ctx)
    assert (fallback.source, fallback.intent.intent) == ("offline", IntentName.UNKNOWN)


@pytest.mark.parametrize(
    ("text_", "args"),
    [
        (
            "aprueba a todos los pendientes de acme.com para la Winter Gala",
            {"intent": "bulk_status", "status": "pending_approval", "domain": "acme.com",
             "event": "Winter Gala", "target_status": "approved"},
        ),
        (
            "recusar maria@exemplo.com para o Founders Dinner",
            {"intent": "set_status", "email": "maria@exemplo.com", "event": "Founders Dinner",
             "target_status": "declined"},
        ),
        (
            "lehne alle auf der Warteliste für die Winter Gala ab",
            {"intent": "bulk_status", "status": "waitlist", "event": "Winter Gala",
             "target_status": "declined"},
        ),
        (
            "approuvez jean@exemple.fr pour le Summer Mixer",
            {"intent": "set_status", "email": "jean@exemple.fr", "event": "Summer Mixer",
             "target_status": "approved"},
        ),
    ],
    ids=["es", "pt", "de", "fr"],
)  # fmt: skip
async def test_orders_in_other_languages_are_writes_that_still_need_confirming(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext, text_: str, args
) -> None:
    result = await parse_with(function_call(args), fake_gemini, gemini, text_, ctx)
    assert (result.source, result.fallback_reason) == ("gemini", None)
    assert result.intent.is_write and result.intent.target_status.value == args["target_status"]


@pytest.mark.parametrize(
    ("text_", "args"),
    [
        # questions, negations and a direction flipped: never a write
        ("¿quién está pendiente para la Winter Gala?", {"target_status": "approved"}),
        ("no apruebes a nadie de acme.com", {"target_status": "approved", **ACME}),
        ("bitte nicht ablehnen: alle von acme.com", {"target_status": "declined", **ACME}),
        ("ne refusez pas les invités de acme.com", {"target_status": "declined", **ACME}),
        ("aprova todos de acme.com", {"target_status": "declined", **ACME}),
        ("wurden die Gäste von acme.com genehmigt?", {"target_status": "approved", **ACME}),
    ],
    ids=["es-question", "es-negated", "de-negated", "fr-negated", "pt-flipped", "de-question"],
)  # fmt: skip
async def test_other_languages_cannot_talk_gemini_into_a_write(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext, text_: str, args
) -> None:
    answer = {"intent": "bulk_status", **args}
    result = await parse_with(function_call(answer), fake_gemini, gemini, text_, ctx)
    assert (result.source, result.fallback_reason) == ("offline", FallbackReason.UNSAFE_WRITE)
    assert result.intent.intent is IntentName.UNKNOWN and not result.intent.is_write


@pytest.mark.parametrize(
    ("text_", "args", "source"),
    [
        # a read missing slots is used as given: the bot asks for what is missing
        (
            "how many are pending for the founders dinner?",
            {"intent": "count_guests", "status": "pending_approval"},
            "gemini",
        ),
        # a write that drops a filter the organizer typed would touch more guests
        (
            "approve everyone pending from acme.com for the founders dinner",
            {"intent": "bulk_status", "status": "pending_approval", "event": "Founders Dinner",
             "target_status": "approved"},
            "offline",
        ),
        (
            "decline bob@acme.com for the gala",
            {"intent": "bulk_status", "event": "Winter Gala", "target_status": "declined"},
            "offline",
        ),
        (
            "decline bob@acme.com for the gala",
            {"intent": "set_status", "email": "eve@acme.com", "target_status": "declined"},
            "offline",
        ),
    ],
    ids=["read-missing-event", "bulk-drops-domain", "one-guest-made-bulk", "other-email"],
)  # fmt: skip
async def test_partial_answers(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext, text_, args, source
) -> None:
    result = await parse_with(function_call(args), fake_gemini, gemini, text_, ctx)
    assert result.source == source
    if source == "offline":
        assert result.fallback_reason is FallbackReason.UNSAFE_WRITE
        offline = OfflineParser().parse(text_, ctx)
        assert result.intent == offline and (offline.domain or offline.email)
    else:
        assert result.intent.event is None and result.intent.status is GuestStatus.PENDING_APPROVAL


async def test_every_outcome_is_counted_by_reason(
    fake_gemini: FakeGemini, gemini: GeminiParser, ctx: ParseContext
) -> None:
    good = function_call({"intent": "sync"})
    partial = function_call({"intent": "count_guests"})
    malformed = Reply({"candidates": [{"content": {"role": "model", "parts": [{"bogus": 1}]}}]})
    invalid = function_call({"intent": "list_events", "limit": "many"})
    unsafe = function_call({"intent": "bulk_status", "target_status": "declined"})
    cases = [
        (good, "sync now", None),
        (partial, "how many for the gala", None),
        (malformed, "events in dubai", FallbackReason.INVALID),
        (invalid, "events in lisbon", FallbackReason.INVALID),
        (unsafe, "who is declined for the gala?", FallbackReason.UNSAFE_WRITE),
        (hang(HANG), "events in berlin", FallbackReason.TIMEOUT),
        (error(429), "events in paris", FallbackReason.RATE_LIMITED),
        (error(503), "events in rome", FallbackReason.UNAVAILABLE),
    ]
    for reply, words, reason in cases:
        ok_before = counted("gemini_calls", use="parse", outcome="ok")
        fallback_before = counted("gemini_calls", use="parse", outcome="fallback")
        reasons_before = {r: counted("gemini_fallbacks", reason=r.value) for r in FallbackReason}
        result = await parse_with(reply, fake_gemini, gemini, words, ctx)
        assert result.fallback_reason is reason, words
        assert counted("gemini_calls", use="parse", outcome="ok") == ok_before + (reason is None)
        assert counted("gemini_calls", use="parse", outcome="fallback") == fallback_before + (
            reason is not None
        )
        grown = {
            r
            for r in FallbackReason
            if counted("gemini_fallbacks", reason=r.value) > reasons_before[r]
        }
        assert grown == ({reason} if reason else set()), words
