"""Answers in the organizer's language, without letting a translation change what they say.

The bot computes every answer in English from our own data. When the organizer wrote in
Spanish, Portuguese, German or French, Gemini translates that answer, and the wording is used
only if it is faithful where faithfulness can be checked: the same HTML tags in the same
order; every email, link, /command, `<code>` span and event name kept; no address, link or
@mention of its own (guest names reach the model inside answers); the same lines, each with
the same numbers and status words (approved, declined, pending, waitlist) in the same order
and the same "no". Anything else keeps the English answer: a true answer in English beats an
untrue one in Spanish. Button labels never go to the model: they come from a fixed table.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

# The languages answers are translated into (ISO 639-1), with the name Gemini is given; each
# has its words for the facts `unfaithful` checks, and its button labels.
LANGUAGES = {"es": "Spanish", "pt": "Portuguese", "de": "German", "fr": "French"}
TELEGRAM_MAX_TEXT = 4096
MAX_GROWTH = 2.5  # a translation this many times longer than the answer says something else

# A fact's kind, and the word stems that name it in English and in each language: a line's
# numbers and these, in order, must be the same after translation ("3 approved, 5 declined"
# may become neither "5 aprobados, 3 rechazados" nor "3 rechazados, 5 aprobados").
_FACT_STEMS = {
    "approve": {
        "en": r"approv|accept",
        "es": r"aprob|acept|admit",
        "pt": r"aprov|aceit|admit",
        "de": r"genehmig|zugelassen|zulass|angenommen|annehm|akzeptier|bestätigt",
        "fr": r"approuv|accept|valid|admis",
    },
    "decline": {
        "en": r"declin|reject|refus",
        "es": r"rechaz|deneg",
        "pt": r"recus|rejeit|negad",
        "de": r"abgelehnt|ablehn|lehnt|abgewiesen|zurückgewiesen",
        "fr": r"refus|rejet|déclin",
    },
    "pending": {
        "en": r"pending",
        "es": r"pendient",
        "pt": r"pendent",
        "de": r"ausstehend|offen",
        "fr": r"en attente",
    },
    "waitlist": {
        "en": r"wait ?list",
        "es": r"lista de espera",
        "pt": r"lista de espera",
        "de": r"warteliste",
        "fr": r"liste d'attente",
    },
}
# Whether a line says no: it must still say no, and a line that did not may not start to.
_NEGATIONS = {
    "en": r"\b(?:no|not|nothing|none|never|nobody|cannot)\b|n't\b",
    "es": r"\b(?:no|nada|nunca|ningún|ninguno|ninguna|nadie)\b",
    "pt": r"\b(?:não|nada|nunca|nenhum|nenhuma|ninguém)\b",
    "de": r"\b(?:nicht|nichts|kein|keine|keinen|nie|niemand)\b",
    "fr": r"\b(?:ne|pas|rien|jamais|aucun|aucune)\b|\bn'",
}
# Buttons run actions, so their labels are never left to a model: these are translated from
# this table, and any other label (an event's name and date) is kept as it is.
BUTTON_LABELS = {
    "Confirm": {"es": "Confirmar", "pt": "Confirmar", "de": "Bestätigen", "fr": "Confirmer"},
    "Cancel": {"es": "Cancelar", "pt": "Cancelar", "de": "Abbrechen", "fr": "Annuler"},
    "Decline and refund": {
        "es": "Rechazar y reembolsar",
        "pt": "Recusar e reembolsar",
        "de": "Ablehnen und erstatten",
        "fr": "Refuser et rembourser",
    },
    "Decline, no refund": {
        "es": "Rechazar, sin reembolso",
        "pt": "Recusar, sem reembolso",
        "de": "Ablehnen, keine Erstattung",
        "fr": "Refuser, sans remboursement",
    },
    "More": {"es": "Más", "pt": "Mais", "de": "Mehr", "fr": "Plus"},
    "Pause": {"es": "Pausar", "pt": "Pausar", "de": "Pausieren", "fr": "Pause"},
    "Resume": {"es": "Reanudar", "pt": "Retomar", "de": "Fortsetzen", "fr": "Reprendre"},
}

_TAG = re.compile(r"<[^<>]*>")
_NUMBER = re.compile(r"\d+")
_CODE = re.compile(r"<code>.*?</code>", re.DOTALL)
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+);")
_KEPT = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # emails
    re.compile(r"https?://[^\s<>\"]+"),  # links
    re.compile(r"(?<![\w/])/[a-z_]+\b"),  # commands
    re.compile(r"<code>(.*?)</code>", re.DOTALL),  # what the organizer would type
)
# What Telegram makes clickable: links, emails, @mentions and domain-like words.
_ADDRESS = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|@\w+|\b[\w-]+(?:\.[a-z]{2,})+\b")


def answer_language(code: str | None) -> str | None:
    """The language an answer should be translated into, or None for English (or one we
    do not translate into)."""
    if code is None:
        return None
    code = code.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def button_label(label: str, language: str) -> str:
    """A button's label in `language`, from the fixed table; other labels as they are."""
    return BUTTON_LABELS.get(label, {}).get(language, label)


@dataclass(frozen=True)
class Answer:
    """What the bot says (HTML), and in which language."""

    text: str
    language: str = "en"


def unfaithful(source: Answer, translated: Answer, names: Iterable[str] = ()) -> str | None:
    """Why `translated` may not stand in for `source` (English), or None when it may.

    `names` are the org's event names: data, kept as they are wherever the source has them.
    """
    text = translated.text
    if not text.strip() or len(text) > min(TELEGRAM_MAX_TEXT, MAX_GROWTH * len(source.text) + 40):
        return "empty or too long"
    if _TAG.findall(text) != _TAG.findall(source.text):
        return "markup changed"
    if _loose_markup(text):
        return "stray markup"
    escaped = (html.escape(name, quote=False) for name in names)
    kept = [*_kept_spans(source.text), *(name for name in escaped if name in source.text)]
    if any(text.count(span) < source.text.count(span) for span in kept):
        return "names, addresses or commands changed"
    if _addresses(text) - _addresses(source.text):
        return "an address, link or mention was added"
    return _unfaithful_facts(source.text, text, translated.language, kept)


def _unfaithful_facts(source: str, text: str, language: str, kept: list[str]) -> str | None:
    """Line by line: the same numbers and statuses in the same order, and a "no" kept (read
    outside what is kept verbatim: `<code>`, addresses, event names)."""
    lines, translated_lines = source.split("\n"), text.split("\n")
    if len(lines) != len(translated_lines):
        return "lines changed"
    for before, after in zip(lines, translated_lines, strict=True):
        before, after = _words_of(before, kept), _words_of(after, kept)
        if _facts(before, "en") != _facts(after, language):
            return "numbers or statuses changed"
        if _says_no(before, "en") != _says_no(after, language):
            return "a negation changed"
    return None


def _words_of(line: str, kept: list[str]) -> str:
    """The line's own words: tags, `<code>` spans and kept spans left out, in lower case."""
    line = _CODE.sub(" ", line)
    for span in sorted(kept, key=len, reverse=True):
        line = line.replace(span, " ")
    return _TAG.sub(" ", line).casefold()


def _facts(plain: str, language: str) -> list[str]:
    """The numbers and status words of a line's own words, in order."""
    found = [(match.start(), match.group(0)) for match in _NUMBER.finditer(plain)]
    for fact, stems in _FACT_STEMS.items():
        found += [(match.start(), fact) for match in re.finditer(stems[language], plain)]
    return [fact for _, fact in sorted(found)]


def _says_no(plain: str, language: str) -> bool:
    return re.search(_NEGATIONS[language], plain) is not None


def _addresses(text: str) -> set[str]:
    return set(_ADDRESS.findall(html.unescape(_TAG.sub(" ", text)).casefold()))


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
