"""Answers in the organizer's language, without letting a translation change what they say.

The bot computes every answer in English from our own data. When the organizer wrote in
another language, Gemini translates that answer (and its button labels), and the wording is
used only if it is faithful where faithfulness can be checked: the same HTML tags in the same
order, the same numbers, every email, link, /command, `<code>` span and event name kept
verbatim, no markup of its own. Anything else keeps the English answer: a true answer in
English beats an untrue one in Spanish.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The languages an answer may be translated into (ISO 639-1), with the name Gemini is given.
LANGUAGES = {
    "es": "Spanish",
    "pt": "Portuguese",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "uk": "Ukrainian",
    "ru": "Russian",
    "tr": "Turkish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ro": "Romanian",
    "el": "Greek",
    "he": "Hebrew",
    "ar": "Arabic",
    "hi": "Hindi",
    "id": "Indonesian",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese",
}
TELEGRAM_MAX_TEXT = 4096
MAX_BUTTON_LABEL = 64

_TAG = re.compile(r"<[^<>]*>")
_NUMBER = re.compile(r"\d+")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+);")
_KEPT = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # emails
    re.compile(r"https?://[^\s<>\"]+"),  # links
    re.compile(r"(?<![\w/])/[a-z_]+\b"),  # commands
    re.compile(r"<code>(.*?)</code>", re.DOTALL),  # what the organizer would type
)


def answer_language(code: str | None) -> str | None:
    """The language an answer should be translated into, or None for English (or unknown)."""
    if code is None:
        return None
    code = code.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


@dataclass(frozen=True)
class Answer:
    """What the bot sends: HTML text and its buttons' labels, in order."""

    text: str
    labels: tuple[str, ...] = ()


def unfaithful(source: Answer, translated: Answer, names: Iterable[str] = ()) -> str | None:
    """Why `translated` may not stand in for `source`, or None when it may.

    `names` are the org's event names: data, kept as they are wherever the source has them.
    """
    if not translated.text.strip() or len(translated.text) > TELEGRAM_MAX_TEXT:
        return "empty or too long"
    if _TAG.findall(translated.text) != _TAG.findall(source.text):
        return "markup changed"
    if _loose_markup(translated.text):
        return "stray markup"
    if _numbers(source.text) != _numbers(translated.text):
        return "numbers changed"
    kept = [*_kept_spans(source.text), *(name for name in names if name in source.text)]
    if any(translated.text.count(span) < source.text.count(span) for span in kept):
        return "names, addresses or commands changed"
    return _unfaithful_labels(source.labels, translated.labels)


def _unfaithful_labels(source: Sequence[str], translated: Sequence[str]) -> str | None:
    if len(source) != len(translated):
        return "buttons changed"
    for before, after in zip(source, translated, strict=True):
        if not after.strip() or len(after) > MAX_BUTTON_LABEL or _TAG.search(after):
            return "bad button label"
        if _numbers(before) != _numbers(after):
            return "numbers changed"
    return None


def _numbers(text: str) -> Counter[str]:
    return Counter(_NUMBER.findall(_TAG.sub(" ", text)))


def _kept_spans(text: str) -> list[str]:
    without_tags = _TAG.sub(" ", text)
    spans = [match.group(0) for pattern in _KEPT[:3] for match in pattern.finditer(without_tags)]
    spans += [match.group(1) for match in _KEPT[3].finditer(text) if match.group(1).strip()]
    return spans


def _loose_markup(text: str) -> bool:
    """A "<", ">" or "&" that is neither a tag nor an entity: Telegram would refuse it."""
    bare = _ENTITY.sub("", _TAG.sub("", text))
    return any(sign in bare for sign in "<>&")


# Everyday words of each language an organizer may write in that English messages do not use;
# enough to say "not understood" in the right language when Gemini is not there to read it.
_MARKERS = {
    "es": "los las del para con por qué que cuántos cuántas cuantos quién quien está están "
    "estos invitados eventos evento lista espera muéstrame muestra aprueba rechaza todos "
    "hola pendientes próximo próxima semana gracias hay cuál el y en mañana",
    "pt": "os dos das quantos quantas convidados estão são mostre mostra aprovar aprova "
    "recusar quem jantar obrigado olá pendentes próximos próxima semana não você em",
    "de": "wie viele gäste sind für das der die und zeig zeige mir alle veranstaltungen "
    "nächste nächsten woche monat genehmige ablehnen warteliste bitte wer ist ich welche",
    "fr": "combien invités sont attente pour les des montre moi événements mois prochain "
    "prochaine approuve refuser tous toutes liste qui quels bonjour merci semaine est",
}
_MARKER_SETS = {code: frozenset(words.split()) for code, words in _MARKERS.items()}
_WORD = re.compile(r"[^\W\d_]+")


def guess_language(text: str) -> str | None:
    """The one language among Spanish, Portuguese, German and French whose everyday words
    `text` uses most (two at least), or None."""
    words = [word.lower() for word in _WORD.findall(text)]
    hits = {code: sum(word in markers for word in words) for code, markers in _MARKER_SETS.items()}
    best = max(hits.values())
    leaders = [code for code, count in hits.items() if count == best]
    return leaders[0] if best >= 2 and len(leaders) == 1 else None
