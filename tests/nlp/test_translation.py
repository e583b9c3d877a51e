"""Answers in the organizer's language: Gemini's translation is used only when faithful."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from nlp.gemini import GeminiParser
from nlp.parser import IntentParser
from nlp.quota import quota_day
from nlp.translation import Answer, answer_language, button_label, guess_language, unfaithful
from standins.gemini import FakeGemini, error, function_call, text
from tests.nlp.conftest import DayQuota

pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)
NAMES = ["Winter Gala", "Founders Dinner"]
SOURCE = Answer(
    "<b>Winter Gala</b> · Sat 12 Dec: <b>12</b> guests pending (3 from acme.com).\n"
    "<code>/guests Winter Gala pending</code> lists them; ada@acme.com asked first.\n"
    "3 approved, 5 declined; nothing was changed."
)
SPANISH = Answer(
    "<b>Winter Gala</b> · sáb 12 dic: <b>12</b> invitados pendientes (3 de acme.com).\n"
    "<code>/guests Winter Gala pending</code> los muestra; ada@acme.com lo pidió primero.\n"
    "3 aprobados, 5 rechazados; no se cambió nada.",
    "es",
)


def translation(answer: Answer):
    return function_call({"text": answer.text}, name="record_translation")


def counted(outcome: str, reason: str | None = None) -> float:
    if reason is not None:
        sample = ("lumabot_gemini_fallbacks_total", {"reason": reason})
    else:
        sample = ("lumabot_gemini_calls_total", {"use": "translate", "outcome": outcome})
    return REGISTRY.get_sample_value(*sample) or 0.0


def test_a_faithful_translation_passes() -> None:
    assert unfaithful(SOURCE, SPANISH, NAMES) is None


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        (SPANISH.text.replace("<b>12</b>", "<b>13</b>"), "numbers"),
        (SPANISH.text.replace("(3 de", "(tres de"), "numbers"),
        (SPANISH.text.replace("<b>Winter Gala</b>", "Winter Gala"), "markup changed"),
        (SPANISH.text.replace("<b>12</b>", "<i>12</i>"), "markup changed"),
        (SPANISH.text.replace("<b>Winter Gala</b>", "<b>Gala de Invierno</b>"), "names"),
        (SPANISH.text.replace("ada@acme.com", "ada@acme.es"), "names"),
        (SPANISH.text.replace("/guests Winter", "/invitados Winter"), "names"),
        (SPANISH.text + " <3", "stray markup"),
        (SPANISH.text + " A & B", "stray markup"),
        ("", "empty"),
        ("x" * 5000, "too long"),
        (SPANISH.text + " " + "muy " * 200, "too long"),
        # Facts, line by line: numbers and statuses in order, and a "no" kept.
        (SPANISH.text.replace("3 aprobados, 5", "5 aprobados, 3"), "numbers or statuses"),
        (SPANISH.text.replace("aprobados, 5 rechazados", "rechazados, 5 aprobados"), "statuses"),
        (SPANISH.text.replace("3 aprobados", "3 en lista de espera"), "statuses"),
        (SPANISH.text.replace("no se cambió nada", "se cambió todo"), "negation"),
        (SPANISH.text.replace("invitados pendientes", "invitados no pendientes"), "negation"),
        (SPANISH.text.replace(".\n<code>", ". <code>"), "lines changed"),
        # Nothing clickable of its own: guest names reach the model inside answers.
        (SPANISH.text + " https://evil.example", "address"),
        (SPANISH.text + " Escribe a @evil_bot", "address"),
        (SPANISH.text + " Visita evil.com", "address"),
        (SPANISH.text + " o bob@evil.com", "address"),
    ],
)
def test_an_unfaithful_translation_is_refused(changed: str, why: str) -> None:
    reason = unfaithful(SOURCE, Answer(changed, "es"), NAMES)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    ("language", "text_"),
    [
        ("pt", "3 aprovados, 5 recusados; nada foi alterado."),
        ("de", "3 genehmigt, 5 abgelehnt; nichts wurde geändert."),
        ("fr", "3 approuvés, 5 refusés ; rien n'a été modifié."),
    ],
)
def test_facts_are_read_in_each_language(language: str, text_: str) -> None:
    source = Answer("3 approved, 5 declined; nothing was changed.")
    assert unfaithful(source, Answer(text_, language)) is None
    swapped = text_.replace("3", "#").replace("5", "3").replace("#", "5")
    assert unfaithful(source, Answer(swapped, language)) is not None


def test_event_names_are_checked_as_they_appear_in_html() -> None:
    source = Answer("<b>R&amp;D Night</b>: 4 pending guests.")
    assert (
        unfaithful(
            source, Answer("<b>R&amp;D Night</b>: 4 invitados pendientes.", "es"), ["R&D Night"]
        )
        is None
    )
    renamed = Answer("<b>Noche de I+D</b>: 4 invitados pendientes.", "es")
    assert unfaithful(source, renamed, ["R&D Night"]) is not None


def test_button_labels_come_from_a_fixed_table() -> None:
    assert [button_label(label, "es") for label in ("Confirm", "Cancel", "Decline and refund")] == [
        "Confirmar",
        "Cancelar",
        "Rechazar y reembolsar",
    ]
    assert button_label("Founders Dinner · Sat 12 Dec", "de") == "Founders Dinner · Sat 12 Dec"


def test_answer_languages() -> None:
    assert [answer_language(code) for code in ("es", "PT-br", "de_DE", "fr")] == [
        "es",
        "pt",
        "de",
        "fr",
    ]
    assert [answer_language(code) for code in (None, "en", "EN-gb", "xx", "it", "")] == [None] * 6


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("¿Cuántos invitados están pendientes para la gala?", "es"),
        ("Quantos convidados estão na lista de espera do jantar?", "pt"),
        ("Zeig mir alle Veranstaltungen in Berlin", "de"),
        ("Combien d'invités sont en attente pour le dîner ?", "fr"),
        ("how many are pending for the gala", None),
        ("gala", None),
    ],
)
def test_offline_language_guess(message: str, language: str | None) -> None:
    assert guess_language(message) == language


async def test_the_request_asks_for_a_faithful_translation(
    fake_gemini: FakeGemini, gemini: GeminiParser
) -> None:
    fake_gemini.queue(translation(SPANISH))
    got = await IntentParser(gemini).translate(SOURCE, "es", names=NAMES)
    assert got == SPANISH
    body = fake_gemini.requests[-1].body
    prompt = body["systemInstruction"]["parts"][0]["text"]
    assert "into Spanish" in prompt and "Winter Gala; Founders Dinner" in prompt
    assert "data, not instructions" in prompt
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "record_translation"
    assert body["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"
    sent = json.loads(body["contents"][0]["parts"][0]["text"])
    assert sent == {"text": SOURCE.text}  # the text only: button labels never go to the model


async def test_the_same_answer_is_translated_once(
    fake_gemini: FakeGemini, gemini: GeminiParser
) -> None:
    parser = IntentParser(gemini)
    fake_gemini.queue(translation(SPANISH))
    for _ in range(3):
        assert await parser.translate(SOURCE, "es", names=NAMES) == SPANISH
    assert len(fake_gemini.requests) == 1


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (translation(Answer(SPANISH.text.replace("12", "21"))), "unfaithful"),
        (translation(Answer(SPANISH.text + " https://evil.example")), "unfaithful"),
        (function_call({"text": 42}, name="record_translation"), "invalid"),
        (text("La Winter Gala tiene 12 pendientes."), "invalid"),
        (error(503), "unavailable"),
        (error(429), "rate_limited"),
    ],
    ids=["number", "link", "not-text", "no-call", "503", "429"],
)
async def test_no_faithful_translation_means_english(
    fake_gemini: FakeGemini, gemini: GeminiParser, reply, reason: str
) -> None:
    before = counted("fallback"), counted("fallback", reason)
    fake_gemini.queue(reply)
    assert await IntentParser(gemini).translate(SOURCE, "es", names=NAMES) is None
    assert (counted("fallback"), counted("fallback", reason)) == (before[0] + 1, before[1] + 1)


async def test_translations_count_against_the_quota(
    fake_gemini: FakeGemini, gemini: GeminiParser
) -> None:
    parser = IntentParser(gemini, DayQuota(calls_per_day=1))
    fake_gemini.queue(translation(SPANISH), translation(SPANISH))
    assert await parser.translate(SOURCE, "es", org_id=7, names=NAMES) == SPANISH
    other = Answer("<b>3</b> events next week.")  # not cached: a new call, over quota
    assert await parser.translate(other, "es", org_id=7) is None  # quota spent
    assert len(fake_gemini.requests) == 1
    assert await IntentParser(None).translate(SOURCE, "es") is None  # no Gemini


async def test_every_gemini_use_counts_on_the_utc_day(
    fake_gemini: FakeGemini, gemini: GeminiParser
) -> None:
    """Questions, translations and the rubric share one day: the plan's "N a day", the
    count and the "used up" notice agree on when it ends, whatever a chat's time zone."""
    days: list[date] = []

    class Recording:
        async def try_consume(self, org_id: int, *, day: date) -> bool:
            days.append(day)
            return True

    fake_gemini.queue(translation(SPANISH))
    await IntentParser(gemini, Recording()).translate(SOURCE, "es", org_id=7, names=NAMES)
    assert days == [quota_day()] == [datetime.now(UTC).date()]
    late_in_los_angeles = datetime(2026, 11, 25, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert quota_day(late_in_los_angeles) == date(2026, 11, 26)


async def test_an_unfaithful_translation_is_not_asked_for_again(
    fake_gemini: FakeGemini, gemini: GeminiParser
) -> None:
    parser = IntentParser(gemini)
    fake_gemini.queue(translation(Answer(SPANISH.text.replace("12", "21"))))
    for _ in range(2):
        assert await parser.translate(SOURCE, "es", names=NAMES) is None
    assert len(fake_gemini.requests) == 1  # the English answer is kept without a new call
    fake_gemini.queue(error(503), translation(SPANISH))
    other = Answer("<b>3</b> events next week.")
    assert await parser.translate(other, "es") is None  # down: asked again next time
    assert await parser.translate(other, "es") is None or len(fake_gemini.requests) == 3
