"""Finding the org's events and cities in a message, the way organizers refer to them.

Nobody types "Lisbon Founders Workshop": they write "the lisbon workshop", "main conf",
"the gala", "sumer mixer". A known event matches when consecutive words of the message match
words of its name (exactly, within one or two typos, or shortened: "conf", "wkshp"). One
matched word is enough only when it is distinctive: not a city, not a command word, not a
generic word such as "night" (on either side: "green light" is no "Demo Night"), a typo only
if the first letter is right, and found in no other event's name. Even then it is not taken
when the word beside it names another event ("the ai conference": the words are kept, for the
bot to ask) or a city not the event's stands before it ("the lisbon conf" for a Berlin one).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from nlp.context import KnownEvent
from nlp.text import KEYWORDS, Tokens, tokenize, words_of

_NAME_FILLER = frozenset({"the", "a", "an", "of", "and", "at", "in", "for", "event"})
_GENERIC = frozenset(
    {"night", "day", "evening", "morning", "new", "main", "big", "annual", "party", "the"}
)
_CITY_BEFORE = frozenset({"in", "at", "near", "around", "across"})
_CITY_AFTER = frozenset({"events", "event"})

# Cities organizers often name even when the org has no event there yet; the org's own
# cities are added per message. Aliases map to the canonical spelling.
_CITY_NAMES = (
    "Abu Dhabi, Amsterdam, Athens, Atlanta, Auckland, Austin, Bangalore, Bangkok, Barcelona, "
    "Beijing, Berlin, Bogota, Boston, Brussels, Budapest, Buenos Aires, Cairo, Cape Town, "
    "Chicago, Copenhagen, Delhi, Denver, Doha, Dubai, Dublin, Edinburgh, Geneva, Helsinki, "
    "Hong Kong, Istanbul, Jakarta, Kuala Lumpur, Kyiv, Lagos, Lisbon, London, Los Angeles, "
    "Madrid, Manchester, Manila, Melbourne, Mexico City, Miami, Milan, Montreal, Mumbai, "
    "Munich, Nairobi, New York, Oslo, Paris, Porto, Prague, Riyadh, Rome, San Diego, "
    "San Francisco, Sao Paulo, Seattle, Seoul, Shanghai, Singapore, Stockholm, Sydney, Taipei, "
    "Tallinn, Tel Aviv, Tokyo, Toronto, Vancouver, Vienna, Warsaw, Washington, Zurich"
)
CITIES = tuple(name.strip() for name in _CITY_NAMES.split(","))
CITY_ALIASES = {"nyc": "New York", "sf": "San Francisco", "la": "Los Angeles", "ny": "New York"}


@dataclass(frozen=True)
class Found:
    """A match in the message: the token indices it used and the canonical value."""

    indices: tuple[int, ...]
    value: str


def find_event(tokens: Tokens, events: Sequence[KnownEvent]) -> Found | None:
    """The known event the message names, by its canonical name."""
    names = [event.name for event in events]
    if not names:
        return None
    cities = city_words(tuple(event.city for event in events if event.city))
    candidates = [_best_window(tokens, name, names, cities) for name in names]
    scored = [found for found in candidates if found is not None]
    if not scored:
        return None
    (_, count, _), found = max(scored, key=lambda pair: pair[0])
    # "the ai conference", "the winter conf" name two events by a word each, side by side:
    # that is for the organizer to settle (the bot asks with buttons), not for word order.
    if count == 1 and any(
        other.value != found.value and abs(other.indices[0] - found.indices[0]) == 1
        for (_, c, _), other in scored
        if c == 1 and _firm(tokens, other)
    ):
        return None
    if count == 1 and _elsewhere(tokens, found, events, cities):
        indices = (found.indices[0] - 1, *found.indices)
        return Found(indices, tokens.surface(indices))  # the words, for the bot to ask about
    return found


def _firm(tokens: Tokens, found: Found) -> bool:
    """A one-word match by the word itself or its usual shortening, not by a typo."""
    said = tokens.items[found.indices[0]].norm
    return any(said == word or _abbreviation_of(said, word) for word in words_of(found.value))


def _elsewhere(
    tokens: Tokens, found: Found, events: Sequence[KnownEvent], cities: frozenset[str]
) -> bool:
    """ "the lisbon conf" when the conference is in Berlin: the city says it is another
    event, one the org may not have; the words are kept rather than another event picked
    (by the word, or by the city)."""
    before = found.indices[0] - 1
    if before < 0 or before in tokens.consumed or tokens.items[before].norm not in cities:
        return False
    city = next((event.city for event in events if event.name == found.value), None)
    return tokens.items[before].norm not in words_of(city or "")


def match_name(phrase: str, events: Sequence[KnownEvent]) -> str | None:
    """The known event a quoted phrase names: every word of it must belong to that name."""
    tokens = tokenize(phrase)
    found = find_event(tokens, events)
    words = {index for index, token in enumerate(tokens.items) if token.norm not in _NAME_FILLER}
    known = found is not None and any(event.name == found.value for event in events)
    return found.value if found and known and words <= set(found.indices) else None


def _free_spans(tokens: Tokens) -> Iterator[tuple[range, str]]:
    """Each run of 3, then 2, then 1 words that no slot has taken yet, with its text."""
    words = [token.norm for token in tokens.items]
    for length in (3, 2, 1):
        for start in range(len(words) - length + 1):
            span = range(start, start + length)
            if not any(index in tokens.consumed for index in span):
                yield span, " ".join(words[start : start + length])


def find_city(tokens: Tokens, extra_cities: Sequence[str]) -> Found | None:
    """A city named after "in"/"at" or before "events" ("events in dubai", "dubai events")."""
    table = _city_table(tuple(extra_cities))
    words = [token.norm for token in tokens.items]
    for span, text in _free_spans(tokens):
        city = table.get(text)
        before = words[span.start - 1] if span.start else ""
        after = words[span.stop] if span.stop < len(words) else ""
        if city and (before in _CITY_BEFORE or after in _CITY_AFTER):
            return Found(tuple(span), city)
    return None


def find_lone_city(tokens: Tokens, cities: Sequence[str]) -> Found | None:
    """One of `cities` (the org's own) named anywhere, as in "berlin stats"."""
    table = {key: city for key, city in _city_table(tuple(cities)).items() if city in cities}
    for span, text in _free_spans(tokens):
        if city := table.get(text):
            return Found(tuple(span), city)
    return None


@lru_cache(maxsize=64)
def _city_table(extra_cities: tuple[str, ...]) -> dict[str, str]:
    table = {" ".join(words_of(city)): city for city in (*CITIES, *extra_cities)}
    return table | CITY_ALIASES


@lru_cache(maxsize=64)
def city_words(extra_cities: tuple[str, ...]) -> frozenset[str]:
    """Every word of every city name, so a lone city word never passes for an event."""
    return frozenset(word for key in _city_table(extra_cities) for word in key.split())


def _best_window(
    tokens: Tokens, name: str, all_names: Sequence[str], cities: frozenset[str]
) -> tuple[tuple[float, int, int], Found] | None:
    """The best run of message words matching `name`, scored (share of name, words, -start)."""
    name_words = [word for word in words_of(name) if word not in _NAME_FILLER]
    best: tuple[tuple[float, int, int], Found] | None = None
    for start in range(len(tokens.items)):
        pairs: list[tuple[int, str]] = []  # (token index, name word it matched)
        for index in range(start, len(tokens.items)):
            token = tokens.items[index]
            if index in tokens.consumed or token.kind != "word":
                break
            taken = {word for _, word in pairs}
            word = next(
                (w for w in name_words if w not in taken and _same_word(token.norm, w)), None
            )
            if word is None:
                if pairs and token.norm == "the":
                    continue
                break
            pairs.append((index, word))
        if not pairs or not _enough(tokens, pairs, name, all_names, cities):
            continue
        score = (len(pairs) / len(name_words), len(pairs), -start)
        if best is None or score > best[0]:
            best = (score, Found(tuple(index for index, _ in pairs), name))
    return best


def _enough(
    tokens: Tokens,
    pairs: list[tuple[int, str]],
    name: str,
    all_names: Sequence[str],
    cities: frozenset[str],
) -> bool:
    """Two matched words always do; a single one only if it could mean nothing else.

    A lone prefix never does: "work" alone is a word, not the "workshop".
    """
    if len(pairs) >= 2:
        return True
    index, name_word = pairs[0]
    said = tokens.items[index].norm
    if said in KEYWORDS or said in _GENERIC or said.isdigit() or said in cities:
        return False
    if name_word in _GENERIC:  # "green light" is no "Demo Night", whatever the spelling
        return False
    if said != name_word and not (_typo_of(said, name_word) or _abbreviation_of(said, name_word)):
        return False
    if said[0] != name_word[0]:  # typos rarely hit the first letter: "print" is no "sprint"
        return False
    others = [other for other in all_names if other != name]
    return not any(_same_word(said, word) for other in others for word in words_of(other))


@lru_cache(maxsize=8192)
def _same_word(said: str, name_word: str) -> bool:
    """Equal, a typo away, or a prefix such as "conf" for "conference"."""
    if said == name_word:
        return True
    if len(said) < 4:
        return False
    return (
        name_word.startswith(said) or _typo_of(said, name_word) or _abbreviation_of(said, name_word)
    )


# Real words that begin an event word; alone they mean themselves ("work" is no "workshop").
_NOT_ABBREVIATIONS = frozenset(
    {"work", "found", "break", "meet", "build", "start", "launch", "design", "main", "over"}
    | {"under", "mark", "part", "play", "show", "open", "free", "next", "long", "late", "head"}
)
_VOWELS = frozenset("aeiou")


def _abbreviation_of(said: str, name_word: str) -> bool:
    """The usual shortenings of an event word: a clipped start of four letters or more
    ("conf" for "conference") or its consonants in order ("wkshp" for "workshop")."""
    if said in _NOT_ABBREVIATIONS or len(said) >= len(name_word) or said[0] != name_word[0]:
        return False
    if name_word.startswith(said):
        return len(said) >= 4
    if len(said) < 3 or _VOWELS & set(said[1:]):
        return False
    letters = iter(name_word)
    return all(letter in letters for letter in said)  # a subsequence of the name word


def _typo_of(said: str, name_word: str) -> bool:
    """One edit away (two for long words); short words must match exactly."""
    if len(said) < 4:
        return False
    allowed = 2 if len(name_word) >= 8 else 1
    return OSA.distance(said, name_word, score_cutoff=allowed) <= allowed
