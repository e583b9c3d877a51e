"""Turning a chat message into tokens the offline rules can match reliably.

Organizers type fast: lowercase, emoji, "pls", "nxt wk", "pendng", "who's". Tokens keep the
words as written (`surface`, for slot values such as a raw event name) next to a normalized
form (`norm`: lowercase, contractions expanded, shorthand and typos corrected) that the
rules match. Slots found by one rule are *consumed* so later rules do not read the same words
twice (the "Lisbon" in "Lisbon workshop" is part of an event, not a city).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

GAP = "|"  # stands in for consumed tokens so no pattern matches across them

_TOKEN_RE = re.compile(
    r"""
    "(?P<dq>[^"]{1,200})"                                   # "Summer Mixer"
    | (?<![\w'])'(?P<sq>[^']{1,200})'(?![\w'])              # 'Summer Mixer'
    | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
    | (?P<domain>@?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b)
    | (?P<word>\w+(?:['-]\w+)*)
    | (?P<punct>[?!,;:.]|\s[-–]\s)
    """,
    re.VERBOSE | re.IGNORECASE,
)


def word_set(text: str) -> frozenset[str]:
    """A set of words written as one block of text, which keeps long word lists readable."""
    return frozenset(text.split())


_QUOTES = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "`": "'", "“": '"', "”": '"', "„": '"'})

CONTRACTIONS = {
    "who's": "who is",
    "whos": "who is",
    "what's": "what is",
    "whats": "what is",
    "how's": "how is",
    "hows": "how is",
    "where's": "where is",
    "that's": "that is",
    "there's": "there is",
    "it's": "it is",
    "i'm": "i am",
    "im": "i am",
    "let's": "let us",
    "hasn't": "has not",
    "haven't": "have not",
    "hadn't": "had not",
    "isn't": "is not",
    "aren't": "are not",
    "wasn't": "was not",
    "weren't": "were not",
    "don't": "do not",
    "dont": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "didnt": "did not",
    "can't": "can not",
    "cant": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shouldn't": "should not",
    "i've": "i have",
    "we've": "we have",
    "i'd": "i would",
    "we're": "we are",
    "they're": "they are",
    "you're": "you are",
}
SHORTHAND = {
    "u": "you",
    "hw": "how",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "pleae": "please",
    "thx": "thanks",
    "ty": "thanks",
    "ppl": "people",
    "nxt": "next",
    "wk": "week",
    "wks": "weeks",
    "wknd": "weekend",
    "mo": "month",
    "mnth": "month",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrrw": "tomorrow",
    "2moro": "tomorrow",
    "tonite": "tonight",
    "tdy": "today",
    "yday": "yesterday",
    "evts": "events",
    "approvd": "approved",
    "checkins": "checkin",
    "check-in": "checkin",
    "check-ins": "checkin",
    "re-sync": "resync",
    "re-fetch": "refetch",
    "e-mail": "email",
    "e-mails": "emails",
    "wait-list": "waitlist",
    "wait-listed": "waitlisted",
    "sign-ups": "signups",
    "sign-up": "signup",
    "dl": "download",
    "num": "number",
    "nr": "number",
    "nbr": "number",
    "headcount": "number of guests",
    "greenlight": "green light",
    "greenlit": "green lit",
    "greenlite": "green light",
    "green-lite": "green light",
    "thumbsup": "thumbs up",
    "thumbsdown": "thumbs down",
    "lite": "light",
    "em": "them",
    "okay": "ok",
    "okey": "ok",
    "rsvp'd": "registered",
    "rsvpd": "registered",
    "rsvped": "registered",
    "rsvp": "register",
    "rsvps": "registrations",
    "ok'd": "okayed",
    "okd": "okayed",
    "oked": "okayed",
    "gimme": "give me",
    "lemme": "let me",
    # abbreviations of status words ("who's on the wl", "approve the w/l")
    "wl": "waitlist",
    "wlist": "waitlist",
    "wtlist": "waitlist",
    "waitlst": "waitlist",
    "pndg": "pending",
}
# Luma's own address names Luma, not a guest's email domain: "pull the latest from lu.ma".
# Only written bare: "@lu.ma" (and luma.com, a company guests may work at) stays a domain filter.
LUMA_DOMAINS = frozenset({"lu.ma", "www.lu.ma"})
# The words the rules are written in. A token close to one of these (one edit, two for
# long words) is read as that word; anything else is left alone, so names survive.
KEYWORDS = word_set(
    """
    approve approves approved approval approvals awaiting accept accepted admit decline
    declined reject rejected deny denied refuse refused pending waitlist waitlisted waiting
    invited invite invites invitees invitation invitations confirmed attending attended attendees
    attendee attendance coming going session sessions registered register registration
    registrations signups guests guest people folks everyone everybody anyone anybody whole
    entire remaining export download spreadsheet excel csv sheet sheets file sync resync
    refresh reload fetch refetch update updates digest recap briefing summary summarize
    overview stats statistics breakdown report numbers status doing looking events event
    calendar schedule happening upcoming tomorrow today tonight yesterday weekend weekends
    week weeks month months year next last past previous this coming between until january
    february march april june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday help commands examples example list show find
    search lookup count number total many who what where when which please thanks hello luma
    data first latest everything happened missed daily weekly morning checkin
    """
)

# Ordinary words one edit away from a keyword; they must stay what they are.
REAL_WORDS = word_set(
    """
    accent admin coding coping dairy daisy dying evens folds forks guess latent lates least
    match mouth paste penning remap resort reuse refute sheep shown stars state states stays
    thinks untie wanting wasting whale wheat while whose writing
    """
)
_CORRECTABLE = tuple(
    sorted(KEYWORDS - word_set("admit accept accepted refuse refused reject deny"))
)


@dataclass
class Token:
    """One word (or email, domain, quoted phrase, punctuation mark) of the message."""

    norm: str
    surface: str
    kind: str  # word | email | domain | quote | punct


@dataclass
class Tokens:
    """The message as tokens, with the ones already used by a slot marked consumed."""

    items: list[Token]
    consumed: set[int] = field(default_factory=set)

    def view(self) -> tuple[str, list[int]]:
        """The unconsumed tokens as one string, and the string offset of every token.

        Consumed tokens become `GAP`, so a pattern never spans words of another slot.
        """
        parts = [self._shown(index) for index in range(len(self.items))]
        offsets, position = [], 0
        for part in parts:
            offsets.append(position)
            position += len(part) + 1
        return " ".join(parts), offsets

    def indices_in(self, start: int, end: int, offsets: list[int]) -> list[int]:
        """Indices of the tokens that a [start, end) span of `view()` covers."""
        return [
            index
            for index, offset in enumerate(offsets)
            if offset < end and offset + len(self._shown(index)) > start
        ]

    def consume_span(self, start: int, end: int, offsets: list[int]) -> None:
        self.consumed.update(self.indices_in(start, end, offsets))

    def surface(self, indices: Iterable[int]) -> str:
        """The words as the organizer wrote them, for slot values kept verbatim."""
        words: list[str] = []
        for index in indices:
            surface = self.items[index].surface
            if not words or words[-1] != surface:  # contractions share one surface
                words.append(surface)
        return " ".join(words)

    def free(self, kind: str) -> Iterator[tuple[int, Token]]:
        for index, token in enumerate(self.items):
            if token.kind == kind and index not in self.consumed:
                yield index, token

    def _shown(self, index: int) -> str:
        """Quoted phrases are slot values, never words for the rules to read."""
        token = self.items[index]
        return GAP if index in self.consumed or token.kind == "quote" else token.norm


def clean(text: str) -> str:
    """Unicode-normalized text with typographic quotes made plain; emoji stay for the tokenizer
    to skip."""
    return unicodedata.normalize("NFKC", text).translate(_QUOTES)


def tokenize(text: str, protected: frozenset[str] = frozenset()) -> Tokens:
    """Split a message into tokens; `protected` words (event and city words) are never
    corrected, so "Mixer" stays "mixer" even if it is one letter away from a keyword."""
    items: list[Token] = []
    for match in _TOKEN_RE.finditer(_slash_shorthand(_number_sign(clean(text)))):
        kind = match.lastgroup or "word"
        surface = match.group(kind)
        if kind in {"dq", "sq"}:
            items.append(Token(surface.strip().lower(), surface.strip(), "quote"))
        elif kind == "word":
            items.extend(_words(surface, protected))
        elif kind == "domain" and surface.lower() in LUMA_DOMAINS:
            items.append(Token("luma", surface, "word"))
        elif kind == "domain":
            items.append(Token(surface.lower().lstrip("@"), surface, "domain"))
        else:
            items.append(Token(surface.strip().lower(), surface.strip(), kind))
    _read_digit_for(items)
    return Tokens(items)


# "# of ppl", "#approved": the number sign as a count. A tag ("#vip") is left alone.
_NUMBER_SIGN = re.compile(
    r"#\s*(?:of\b)?(?=\s|(?:approved|pending|declined|rejected|waitlist\w*|invited|guests?|ppl"
    r"|people|attendees|registered|signups|rsvps?)\b)",
    re.IGNORECASE,
)

# Words that mark a message as Spanish, Portuguese, German or French and that an English
# message about events does not use. The offline rules read English only: a message in
# another language gets "not understood" and the commands, never a guess from the few
# English words (an event name, an email) it happens to contain.
_FOREIGN_WORDS = word_set(
    """
    los las del para con por que qué cuántos cuántas cuantos quién quien está están esta
    estos invitados invitado eventos evento lista espera muéstrame muestra mostrar aprueba
    aprobar apruebe rechaza rechazar rechace todos todas hola pendientes pendiente próximo
    próxima mes semana favor sincroniza sincronizar gracias cena fiesta hay cuál
    os dos das quantos quantas convidados convidado estão são mostre mostra aprovar
    aprova recusar recusa recuse quem jantar obrigado olá pendentes próximos
    wie viele gäste gast sind für das der und zeig zeige mir alle veranstaltungen
    veranstaltung nächste nächsten woche monat genehmige genehmigen ablehnen lehne auf
    warteliste exportiere exportieren gästeliste bitte wer ist ich welche kommen zugesagt
    wurde wurden abgelehnt genehmigt
    combien invités invité sont attente pour les des montre montrez moi événements
    événement mois prochain prochaine approuve approuver approuvez refuser refusez tous
    toutes liste qui quels quelles bonjour merci dîner fondateurs semaine combien
    """
)
_FOREIGN_MARKS = re.compile(r"[¿¡]|\b\w*[áíóúñãõçâêôàèùœßäöü]\w*\b", re.IGNORECASE)
_LETTER_WORD = re.compile(r"(?<![@.\w])[^\W\d_]+(?:['’-][^\W\d_]+)*(?![@\w]|\.\w)")


# "w/l" and "w/list" for the waitlist: the slash would otherwise split them into letters.
_SLASH_WAITLIST = re.compile(r"(?<![\w/])w ?/ ?l(?:ist)?(?![\w/])", re.IGNORECASE)


# "2+ events": two or more.
_OR_MORE = re.compile(r"(?<![\w.])(\d{1,3})\+(?!\w)")


def _slash_shorthand(text: str) -> str:
    text = _OR_MORE.sub(r"\1 or more", text) if "+" in text else text
    return _SLASH_WAITLIST.sub("waitlist", text) if "/" in text else text


def _number_sign(text: str) -> str:
    return _NUMBER_SIGN.sub("number of ", text) if "#" in text else text


def foreign_language(text: str, protected: frozenset[str] = frozenset()) -> bool:
    """Whether `text` reads as Spanish, Portuguese, German or French rather than English.

    More marker words than English keywords (two at least), an inverted question mark, or one
    marker word with an accented word or no English keyword beside it ("rechaza a
    juan@acme.com"), decide;
    `protected` words (event and city names, "Los Angeles", "São Paulo") never count.
    """
    cleaned = clean(text)
    words = [
        word.lower()
        for word in _LETTER_WORD.findall(cleaned)
        if _unaccented(word.lower()) not in protected
    ]
    parts = {part for word in words for part in re.split(r"['’-]", word)}
    markers = len(parts & _FOREIGN_WORDS)
    accented = sum(1 for word in words if _FOREIGN_MARKS.search(word))
    inverted = "¿" in cleaned or "¡" in cleaned
    # "approve everyone for the gala por favor" is English with a courtesy in Spanish.
    english = len({part for part in parts - _FOREIGN_WORDS if correct(part) in KEYWORDS})
    return (
        (markers >= 2 and markers > english)
        or inverted
        or (markers >= 1 and (accented >= 1 or not english))
        or accented >= 2
    )


def _unaccented(word: str) -> str:
    """ "são" -> "sao", so a city written with its accents is still a protected word."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _words(surface: str, protected: frozenset[str]) -> list[Token]:
    lower = surface.lower()
    if lower.endswith("'s") and lower not in CONTRACTIONS:
        lower = lower[:-2]  # possessive: "mixer's" -> "mixer"
    expanded = CONTRACTIONS.get(lower) or SHORTHAND.get(lower)
    if expanded is None and "-" in lower and not lower.replace("-", "").isdigit():
        joined = lower.replace("-", "")
        expanded = joined if joined in KEYWORDS else lower.replace("-", " ")
    if expanded is None:
        expanded = lower if lower in protected else correct(lower)
    return [Token(part, surface, "word") for part in expanded.split()]


def _read_digit_for(items: list[Token]) -> None:
    """Texting shorthand "pending 4 the workshop": a lone 4 before an article means "for"."""
    for index, token in enumerate(items[:-1]):
        if token.norm == "4" and items[index + 1].norm in {"the", "my", "our"}:
            token.norm = "for"


@lru_cache(maxsize=4096)
def correct(word: str) -> str:
    """The keyword a mistyped word most likely meant (one edit away), or the word itself.

    Typos rarely hit the first letter, and requiring it to match keeps real words such as
    "except" from turning into "accept". Short write verbs are never a correction target:
    a misspelled "reject" stays unread rather than "reuse" becoming "refuse".
    """
    if len(word) < 5 or word in KEYWORDS or word in REAL_WORDS or not word.isalpha():
        return word
    candidates = [keyword for keyword in _CORRECTABLE if keyword[0] == word[0]]
    best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=1)
    return best[0] if best else word


def words_of(name: str) -> list[str]:
    """Lowercase words of an event or city name, as the tokenizer would produce them."""
    return [word.lower() for word in re.findall(r"\w+", clean(name))]
