"""Answers in the organizer's language, through the local Bot API and a fake Gemini.

The fake reads the organizer's message as a scripted intent and "translates" answers by
prefixing them and swapping a few words, which keeps every number, tag and name; a test that
wants an unfaithful translation changes a number instead.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from core.settings import Settings
from nlp.gemini import GeminiParser
from nlp.parser import IntentParser
from standins.gemini import FakeGemini, Reply, RunningFake, function_call

pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)
SPANISH_WORDS = {  # longest first: "Approved" before "Approve"
    "Cancelled; nothing was changed.": "Cancelado; no se cambió nada.",
    "pending guests": "invitados pendientes",
    "Approved": "Aprobado",
    "Approve": "Aprobar",
    "approved": "aprobado",
    "pending": "pendiente",
    "declined": "rechazado",
}


SPANISH_PATTERN = re.compile("|".join(re.escape(english) for english in SPANISH_WORDS))


def spanish(words: str) -> str:
    return "ES · " + SPANISH_PATTERN.sub(lambda match: SPANISH_WORDS[match.group(0)], words)


class Scripted:
    """Gemini as the tests script it: messages to intents, answers to "Spanish"."""

    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.faithful = True
        self.translated: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        (declaration,) = body["tools"][0]["functionDeclarations"]
        contents = body["contents"][0]["parts"][0]["text"]
        if declaration["name"] == "record_intent":
            return function_call(self.intents.get(contents, {"intent": "unknown"}))
        source = json.loads(contents)
        self.translated.append(source["text"])
        text = spanish(source["text"]) + ("" if self.faithful else " (99)")
        return function_call({"text": text}, name="record_translation")


@pytest.fixture(scope="module")
def running_gemini() -> Iterator[FakeGemini]:
    with RunningFake() as fake:
        yield fake


@pytest.fixture
async def spanish_world(
    running_gemini: FakeGemini, bot_with: Callable[..., Any]
) -> AsyncIterator[Any]:
    running_gemini.reset()
    script = Scripted()
    running_gemini.responder = script
    settings = Settings(
        gemini_api_key=SecretStr("AIzaFakeKeyForTests0123456789abcdefghij"),
        gemini_api_url=running_gemini.url,
    )
    gemini = GeminiParser.from_settings(settings)
    assert gemini is not None
    async with bot_with(parser=IntentParser(gemini)) as world:
        world.script = script
        yield world
    await gemini.aclose()


async def linked_dm(world: Any) -> tuple[Any, int]:
    """A calendar and an admin whose private chat works with it."""
    calendar, _group, admin = await world.linked_group()
    await world.link(calendar, admin, admin)
    return calendar, admin


def dinner(intent: str, **slots: str) -> dict[str, str]:
    """What the scripted Gemini reads: `intent` about the Founders Dinner, in Spanish."""
    return {"intent": intent, "event": "Founders Dinner", "language": "es", **slots}


PENDING = {"status": "pending_approval"}


async def ask_to_approve_all_pending(world: Any, admin: int) -> Any:
    """The bulk preview of approving everyone pending for the Founders Dinner, in Spanish."""
    order = "aprueba a todos los pendientes de la Founders Dinner"
    world.script.intents[order] = dinner("bulk_status", target_status="approved", **PENDING)
    return await world.say(admin, admin, order)


async def test_a_question_in_spanish_is_answered_in_spanish(spanish_world) -> None:
    world = spanish_world
    calendar, admin = await linked_dm(world)
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    question = "¿cuántos invitados están pendientes para la cena de fundadores?"
    world.script.intents[question] = dinner("count_guests", **PENDING)
    answer = await world.say(admin, admin, question)
    assert answer.text == f"ES · Founders Dinner: {len(pending)} invitados pendientes."
    # The same question in English is answered in English, without a translation.
    world.script.intents["how many pending for founders dinner"] = {
        **dinner("count_guests", **PENDING),
        "language": "en",
    }
    english = await world.say(admin, admin, "how many pending for founders dinner")
    assert english.text == f"Founders Dinner: {len(pending)} pending guests."
    assert len(world.script.translated) == 1  # only the Spanish answer went to Gemini
    assert "pending guests" in world.script.translated[0]


async def test_an_unfaithful_translation_leaves_the_answer_in_english(spanish_world) -> None:
    world = spanish_world
    calendar, admin = await linked_dm(world)
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    world.script.faithful = False  # it adds a number the answer does not have
    question = "¿cuántos pendientes hay en la cena?"
    world.script.intents[question] = dinner("count_guests", **PENDING)
    answer = await world.say(admin, admin, question)
    assert answer.text == f"Founders Dinner: {len(pending)} pending guests."


async def test_a_spanish_order_is_previewed_confirmed_and_reported_in_spanish(
    spanish_world,
) -> None:
    world = spanish_world
    calendar, admin = await linked_dm(world)
    guest = world.guests(calendar, "Founders Dinner", "pending_approval")[0]
    email = guest.person.email
    order = f"aprueba a {email} para la Founders Dinner"
    world.script.intents[order] = dinner("set_status", email=email, target_status="approved")
    preview = await world.say(admin, admin, order)
    assert preview.text.startswith("ES · Aprobar this guest for Founders Dinner?")
    assert [button["text"] for button in preview.buttons] == ["Confirmar", "Cancelar"]
    assert not world.writes(calendar)  # nothing before the press
    done = await world.press(admin, admin, preview, "Confirmar")
    if not done.text.startswith("ES · "):  # the interim "Approving …" edit, then the result
        done = await world.next_message(admin, lambda m: m.text.startswith("ES · Aprobado"))
    assert done.text.startswith("ES · Aprobado") and email in done.text
    written = Counter((w.guest_id, w.new_status) for w in world.writes(calendar))
    assert written == Counter({(guest.id, "approved"): 1})


async def test_cancel_is_said_in_spanish_and_writes_nothing(spanish_world) -> None:
    world = spanish_world
    calendar, admin = await linked_dm(world)
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    preview = await ask_to_approve_all_pending(world, admin)
    assert preview.text.startswith(f"ES · Aprobar {len(pending)} guest(s) of Founders Dinner")
    cancelled = await world.press(admin, admin, preview, "Cancelar")
    assert cancelled.text == "ES · Cancelado; no se cambió nada."
    assert not world.writes(calendar)


async def test_a_refusal_is_said_in_spanish(spanish_world) -> None:
    world = spanish_world
    _calendar, admin = await linked_dm(world)
    question = "¿quién es nadie@ejemplo.com?"
    world.script.intents[question] = {
        "intent": "find_guest",
        "email": "nadie@ejemplo.com",
        "language": "es",
    }
    answer = await world.say(admin, admin, question)
    assert answer.text.startswith("ES · I found no guest matching")
    assert "nadie@ejemplo.com" in answer.text


async def test_offline_a_message_in_another_language_is_not_understood_in_it(world) -> None:
    _calendar, admin = await linked_dm(world)
    answer = await world.say(admin, admin, "¿Cuántos invitados están pendientes para la gala?")
    assert answer.text.startswith("Lo siento, no lo he entendido")
    assert "/guests" in answer.text and "/help" in answer.text
    german = await world.say(admin, admin, "Zeig mir alle Veranstaltungen in Berlin")
    assert german.text.startswith("Entschuldigung, das habe ich nicht verstanden")


async def test_a_spanish_bulk_order_is_reported_in_spanish(spanish_world) -> None:
    world = spanish_world
    calendar, admin = await linked_dm(world)
    pending = world.guests(calendar, "Founders Dinner", "pending_approval")
    preview = await ask_to_approve_all_pending(world, admin)
    assert preview.text.startswith("ES · Aprobar"), preview.text
    await world.press(admin, admin, preview, "Confirmar")
    # The live counts are in English; the final report is translated once, when it is known.
    report = await world.next_message(admin, lambda m: m.text.startswith("ES · "), timeout=30)
    assert "Bulk job finished" in report.text
    written = Counter(w.guest_id for w in world.writes(calendar))
    assert set(written) == {g.id for g in pending} and set(written.values()) == {1}
