"""The deterministic parser: keyword and pattern rules good enough to be the only parser.

Slots are read first, most specific first, each consuming its words: a quoted phrase, emails,
domains, the org's known events, dates, cities. The intent is then decided on what is left,
so "Summer Mixer" can never read as a season and "Lisbon workshop" never as a city. Then
the write verb, the status filter and the limit are read, and last, when no known event
matched, the words naming an event are taken as written ("stats for the tokyo hackathon" ->
"tokyo hackathon").

Slot rules: `event` is the canonical name when a known event matches, else the user's words
(original case, filler such as "the"/"event" and quotes removed); `city` is always the
canonical capitalized name; a city the org has one event in names that event ("berlin
stats") in questions about one event. Write intents need explicit write words (approve,
accept, let in, bump off the waitlist, green light, decline, reject, deny, turn down, turn
away, kick out, mark/set/move ... as approved/declined), never negated ("don't approve") nor
asked about ("did I approve ...?", "who got kicked out?").

The rules read English. A message in Spanish, Portuguese, German or French is "not
understood" (the bot then suggests the commands) instead of being guessed from its English
words; `detect_write_words` still recognises an order in those languages, so that Gemini's
reading of one can be checked like an English one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nlp.context import KnownEvent, ParseContext
from nlp.dates import NUMBER_WORDS, find_dates
from nlp.entities import city_words, find_city, find_event, find_lone_city, match_name
from nlp.intent import STATUS_SYNONYMS, Intent, IntentName, TargetStatus
from nlp.text import KEYWORDS, Tokens, foreign_language, tokenize, word_set, words_of


def _rx(pattern: str) -> re.Pattern[str]:
    """Patterns match whole words of the normalized view and never the GAP marker."""
    return re.compile(rf"(?<![\w@.]){pattern}(?![\w@])")


_APPROVE = r"approve|accept|admit|green light"
_DECLINE = r"decline|reject|deny|refuse|turn down"
# Everyday orders: "kick X out", "turn X away", "boot X from", "bump X off the waitlist".
_KICK_OUT = r"kick(?! off)(?: \S+){0,5}? out|turn(?: \S+){0,5}? away|throw(?: \S+){0,5}? out"
_BOOT = r"boot(?= (?:\S+ ){0,6}?(?:out|from)\b)"
_BUMP = r"bump(?: \S+){0,6}? off"
_TARGET_WORD = r"(?P<target>approved|accepted|declined|rejected|denied)"
# A write verb must not follow a negation or a question about the past or about advice.
_NOT_AN_ORDER = (
    r"(?<!not )(?<!never )(?<!no )"
    r"(?<!did i )(?<!did we )(?<!did you )(?<!have i )(?<!have we )(?<!has anyone )"
    r"(?<!should i )(?<!should we )(?<!do i )(?<!do we )(?<!did )(?<!who )"
    r"(?<!got )(?<!get )(?<!was )(?<!were )(?<!been )(?<!being )"
)
_WRITE_PATTERNS = (
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>(?:bulk )?(?:{_APPROVE}))"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>let)(?! me\b| us\b)(?: \S+){{0,6}}? (?:in|into)(?= |$)"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>{_BUMP})(?= |$)"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>(?:bulk )?(?:{_DECLINE}))"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>{_KICK_OUT}|{_BOOT})"),
    _rx(
        rf"{_NOT_AN_ORDER}(?P<verb>mark|set|move|change|switch|put|update)(?: \S+){{1,8}}? "
        rf"(?:as|to|into) {_TARGET_WORD}"
    ),
)
_STATUS_PATTERNS = tuple((_rx(pattern), status) for pattern, status in STATUS_SYNONYMS)
_LIMIT_PATTERNS = (
    _rx(
        r"(?:top|first|last|latest|next|only|just|max|maximum|limit(?: to)?|up to) "
        r"(?P<n>\d{1,4}|[a-z]+)"
    ),
    _rx(r"(?P<n>\d{1,4}) (?:\S+ )?(?:guests?|people|attendees|events?|names|entries|rows|folks)"),
)

HELP = _rx(
    r"^(?:help|start|commands?|menu|examples?)|what (?:can|could) (?:you|i)|what can you do"
    r"|(?:how|can) (?:can )?you help|what commands|what are you|who are you"
    r"|how (?:do|does|can|should) (?:i|we|this|you) (?:use|work|start|ask)|how does this work"
    r"|i am lost|(?:show|give) me (?:some )?examples|what kind of (?:questions|things)"
    r"|what (?:questions|things) can i|what can (?:this|the) bot do"
    r"|what (?:should|do|can) (?:i|we) (?:type|say|write|send)"
    r"|how (?:do|can|should) (?:i|we) (?:approve|accept|decline|reject|export|sync|find|link)"
)
# Things organizers ask that the bot does not do; said plainly rather than half-guessed.
UNSUPPORTED = _rx(
    r"reminders?|remind|(?:send|write|draft) (?:an? |the )?(?:e ?mail|message|text|newsletter)"
    r"|(?:e ?mail|message|text) (?:them|everyone|everybody|all)"
)
EXPORT = _rx(
    r"export|csv|download|spreadsheet|excel|xlsx|google sheets?|as an? file|to an? file"
    r"|in an? file|xlsx?"
)
SYNC = _rx(
    r"re ?sync|sync|refresh|reload|refetch|fetch (?:fresh|new|the latest|latest)"
    r"|(?:pull|update|import|fetch)(?: \S+){0,3} from luma"
)
DIGEST = _rx(
    r"digest|recap|briefing|brief me|catch me up|what did i miss|what have i missed"
    r"|(?:daily|weekly|morning|evening) (?:summary|report|update|overview)"
)
DIGEST_WITHOUT_EVENT = _rx(r"what is new|what happened|any updates|updates|anything new")
FIND = _rx(
    r"^(?:please )?(?:find|look up|lookup|search|where is)"
    r"|^(?:is|did|has|does|was) (?!there |it |this |the |anyone |everyone |we |i |you )"
    r"[a-z]+ (?:[a-z]+ )?(?:on|in|registered|register|coming|going|attending|approved|been|"
    r"signed|checked|check)"
)
SUMMARY = _rx(
    r"summary|summarize|overview|stats|statistics|attendance|breakdown|report|numbers"
    r"|checkin|check in|checked in|showed up|how is|how are (?:we|things)|how did|how does"
    r"|tell me about|status (?:of|for)|registration look|doing|looking"
)
COUNT = _rx(r"how many|number of|count|total|how much|no (?:\. )?of")
GUESTS = _rx(
    r"guests?|attendees?|people|folks|everyone|everybody|names|guest list|wait ?list"
    r"|waiting list|who (?:is|are|got|has|have|had|registered|signed|did|still|was|were|should)"
)
EVENTS = _rx(
    r"events?|calendar|schedule|what is on|happening|going on|coming up|anything"
    r"|what do we have|what have we got|what did we (?:do|host|run|hold)|what have we done"
    r"|what we have|stuff"
)
REPEAT = _rx(
    r"(?:repeat|returning|recurring|loyal) (?:guests?|attendees?|visitors?|people|folks"
    r"|registrants?|faces)|regulars|repeaters|(?:came|come|been|attended) (?:here )?before"
    r"|(?:came|come|coming) back|(?:attended|registered for|been to|came to) (?:more than one"
    r"|several|multiple|many|other|previous|earlier|past) (?:of (?:our|my) )?events"
)
VIPS = _rx(r"vips?|very important (?:guests|people)|most important (?:guests|people)")
_BY = r"(?:by|per|each|every|across|for each|split by|broken down by)"
TRENDS = _rx(
    r"trends?|trending|over time|month over month|year over year"
    rf"|{_BY} (?:months?|cit(?:y|ies)|(?:email )?domains?|compan(?:y|ies)|events?)"
    r"|monthly (?:registrations|attendance|numbers|signups)"
    r"|(?:no shows?|noshows?|approval|attendance|turnout|show up) rates?"
    r"|which (?:email )?(?:domains|companies|cities|months) (?:attend|register|show up|come"
    r"|bring|sign up)"
    r"|(?:domains|companies|cities) (?:attend|register|show up|come)(?:s)? (?:the )?most"
)
# What a trend is grouped by, first match wins; over time (by month) when none is named.
TREND_GROUPS = (
    ("domain", _rx(r"(?:email )?domains?")),
    ("company", _rx(r"compan(?:y|ies)|employers?|organi[sz]ations?")),
    ("city", _rx(r"cit(?:y|ies)|locations?")),
    ("event", _rx(rf"{_BY} events?|which events|events? by")),
    ("month", _rx(r"months?|monthly|over time")),
)
TAG = _rx(r"(?:tagged|with (?:the |a )?tag|labell?ed) (?:as )?(?P<tag>[a-z0-9][a-z0-9_-]{0,31})")
GREETING = re.compile(r"^(?:hi|hello|hey|yo|hiya|howdy|good (?:morning|afternoon|evening))\b")
PAST_TENSE = _rx(r"did|was|were|happened|hosted|held|ran|went")
BULK = _rx(
    r"all|everyone|everybody|every|whole|entire|rest|remaining|bulk|guests|people|folks"
    r"|attendees|requests|them"
)
_RAW_EVENT = _rx(
    r"(?:(?:for|of|at|to|about) (?:the |my |our |this |that )?|from (?:the |my |our |this |that ))"
    r"(?P<words>[a-z0-9][\w']*(?: [a-z0-9][\w']*){0,5}?)"
    r"(?= events?\b| [|?!,;:.]| (?:please|thanks|now|asap|guests?|attendees|people|who|with|and"
    r"|that|as)\b|$)"
)
_UNKNOWN_CITY = _rx(r"(?:in|at) (?P<words>[a-z]+(?: [a-z]+)?)(?= [|?!,;:.]| events?\b|$)")
_GUEST_AFTER_VERB = _rx(
    r"(?:find|look up|lookup|search for|search|check|approve|accept|admit|decline|reject|deny"
    r"|refuse|turn down)(?: guest)? (?P<words>[a-z]+(?: [a-z]+){0,2}?)(?= (?:for|from|to|at|in"
    r"|on|please)\b| [|?!,;:.]|$)"
)
_GUEST_LET_IN = _rx(r"let (?P<words>[a-z]+(?: [a-z]+)?)(?= in(?:to)?\b)")
_GUEST_IN_QUESTION = _rx(
    r"^(?:is|did|has|does|was) (?P<words>[a-z]+(?: [a-z]+)?)(?= (?:on|in|registered|register"
    r"|coming|going|attending|approved|been|signed|checked|check)\b)"
)
MAX_FREE_TEXT = 80  # longer "names" are pasted text, not an event, city or guest
_FILLER = word_set(
    "the a an my our this that his her their these those some any all me us you it him"
)


@dataclass
class _Reading:
    """Slots found so far while reading one message."""

    tokens: Tokens
    slots: dict[str, Any] = field(default_factory=dict)

    def view(self) -> str:
        return self.tokens.view()[0]

    def take(self, match: re.Match[str], group: str | int = 0) -> None:
        """Consume the words of a match (or one of its groups)."""
        offsets = self.tokens.view()[1]
        self.tokens.consume_span(match.start(group), match.end(group), offsets)

    def surface(self, match: re.Match[str], group: str) -> str:
        offsets = self.tokens.view()[1]
        return self.tokens.surface(self.tokens.indices_in(*match.span(group), offsets))


class OfflineParser:
    """Rules only, no network: answers when Gemini is absent, slow, failing or over quota."""

    def parse(self, text: str, ctx: ParseContext) -> Intent:
        """The intent in `text`; deterministic for a given text and context.

        A message in another language is not understood (the bot then shows the commands):
        its few English words, an event name or an email, must not make a guess.
        """
        if foreign_language(text, _protected_words(ctx.events, ctx.cities)):
            return Intent(intent=IntentName.UNKNOWN)
        reading = _read_entities(text, ctx)
        intent = _classify(reading)
        if intent in _NAMES_AN_EVENT:
            _event_by_city(reading, ctx)
        if intent is IntentName.TRENDS:
            view = reading.view()
            group = next((name for name, rx in TREND_GROUPS if rx.search(view)), None)
            reading.slots["group_by"] = group
        _read_filters(reading, intent)
        if intent in {IntentName.SET_STATUS, IntentName.BULK_STATUS}:
            intent = _write_kind(reading)
        _read_leftovers(reading, intent)
        return Intent.model_validate({"intent": intent, **reading.slots})


def detect_write_words(text: str, ctx: ParseContext | None = None) -> TargetStatus | None:
    """The status an explicit write order in `text` asks for, or None.

    Quoted phrases and (with `ctx`) known event names are ignored, so an event called
    "Accept the Future" does not make a question about it an order.
    """
    reading = _read_entities(text, ctx)
    if found := _find_write(reading):
        return found
    events, cities = (ctx.events, ctx.cities) if ctx else ((), ())
    if foreign_language(text, _protected_words(tuple(events), tuple(cities))):
        return _foreign_write(reading)
    return None


# Orders in the other languages organizers write in (Spanish, Portuguese, German, French):
# imperatives and infinitives only, so that Gemini's reading of "aprueba a ana@x.com" can be
# checked like an English one. The offline parser itself never acts on these (it answers
# "not understood" in another language); any negation or question refuses them all.
_FOREIGN_APPROVE = (
    r"aprueba|aprueben|apruebe|aprobar|acepta|acepten|acepte|aceptar|admite|admitir"
    r"|aprova|aprovem|aprovar|aceita|aceitem|aceitar|admita"
    r"|genehmige|genehmigen|akzeptiere|akzeptieren|bestätige|bestätigen"
    r"|approuve|approuvez|approuver|accepte|acceptez|accepter|admets|admettez|admettre"
)
_FOREIGN_DECLINE = (
    r"rechaza|rechacen|rechace|rechazar|deniega|denegar|declina|declinar"
    r"|recusa|recusem|recuse|recusar|rejeita|rejeitem|rejeite|rejeitar"
    r"|lehne|ablehnen|weise|abweisen"
    r"|refuse|refusez|refuser|rejette|rejetez|rejeter|décline|déclinez|décliner"
)
_FOREIGN_VERB = re.compile(
    rf"(?<!\w)(?:(?P<approve>{_FOREIGN_APPROVE})|(?P<decline>{_FOREIGN_DECLINE}))(?!\w)"
)
_FOREIGN_NOT_AN_ORDER = re.compile(
    r"\?|(?<!\w)(?:no|nunca|não|nao|nicht|kein\w*|nie|ne|n|pas|jamais|ya|já|schon|déjà"
    r"|cuántos|cuántas|cuantos|quién|quien|quem|quantos|quantas|wie|wer|welche|combien|qui"
    r"|quels|quelles|wurde|wurden|fue|fueron|foi|foram|a-t-il|ont)(?!\w)"
)


def _foreign_write(reading: _Reading) -> TargetStatus | None:
    view = " ".join(token.surface.lower() for token in reading.tokens.items)
    if _FOREIGN_NOT_AN_ORDER.search(view):
        return None
    verbs = {
        TargetStatus.APPROVED if match.group("approve") else TargetStatus.DECLINED
        for match in _FOREIGN_VERB.finditer(view)
    }
    return verbs.pop() if len(verbs) == 1 else None


def written_addresses(
    text: str, ctx: ParseContext | None = None
) -> tuple[frozenset[str], frozenset[str]]:
    """The emails and the email domains the organizer typed (outside quotes), normalized."""
    tokens = _read_entities(text, ctx).tokens
    emails = frozenset(token.norm for token in tokens.items if token.kind == "email")
    domains = frozenset(token.norm for token in tokens.items if token.kind == "domain")
    return emails, domains


def _read_entities(text: str, ctx: ParseContext | None) -> _Reading:
    events = ctx.events if ctx else ()
    cities = ctx.cities if ctx else ()
    reading = _Reading(tokenize(text, _protected_words(tuple(events), tuple(cities))))
    tokens, slots = reading.tokens, reading.slots
    if quoted := next(tokens.free("quote"), None):
        index, token = quoted
        slots["event"] = match_name(token.surface, events) or token.surface
        tokens.consumed.add(index)
    for kind in ("email", "domain"):
        for index, token in tokens.free(kind):
            slots.setdefault(kind, token.norm)
            tokens.consumed.add(index)
    if "event" not in slots and (event := find_event(tokens, events)):
        slots["event"] = event.value
        tokens.consumed.update(event.indices)
    view = reading.view()
    if ctx and (dates := find_dates(view, ctx.today, past=bool(PAST_TENSE.search(view)))):
        slots["date_from"], slots["date_to"] = dates.date_from, dates.date_to
        tokens.consume_span(dates.start, dates.end, tokens.view()[1])
    if city := find_city(tokens, cities):
        slots["city"] = city.value
        tokens.consumed.update(city.indices)
    return reading


@lru_cache(maxsize=64)
def _protected_words(events: tuple[KnownEvent, ...], cities: tuple[str, ...]) -> frozenset[str]:
    """Words of the org's event names and of cities: never "corrected" into keywords."""
    words = {word for event in events for word in words_of(event.name)}
    return frozenset(words - KEYWORDS) | city_words(cities)


def _classify(reading: _Reading) -> IntentName:
    view, slots = reading.view(), reading.slots
    if _find_write(reading, consume=False):
        # No write filters by a segment we cannot express: "approve the repeat guests" lists
        # them instead of approving everyone the other words match.
        if REPEAT.search(view):
            return IntentName.REPEAT_GUESTS
        return IntentName.BULK_STATUS  # refined by _write_kind once filters are read
    people = "email" not in slots
    checks = (
        (IntentName.HELP, HELP.search(view)),
        (IntentName.UNKNOWN, UNSUPPORTED.search(view)),
        (IntentName.EXPORT, EXPORT.search(view)),
        (IntentName.SYNC, SYNC.search(view)),
        (IntentName.DIGEST, DIGEST.search(view)),
        (IntentName.DIGEST, "event" not in slots and DIGEST_WITHOUT_EVENT.search(view)),
        (IntentName.REPEAT_GUESTS, people and REPEAT.search(view)),
        (IntentName.VIP_GUESTS, people and VIPS.search(view)),
        (IntentName.TRENDS, "event" not in slots and TRENDS.search(view)),
        (IntentName.FIND_GUEST, "email" in slots or FIND.search(view)),
        (IntentName.EVENT_SUMMARY, SUMMARY.search(view)),
        (
            IntentName.LIST_EVENTS,
            COUNT.search(view) and not GUESTS.search(view) and EVENTS.search(view),
        ),
        (IntentName.COUNT_GUESTS, COUNT.search(view)),
        (IntentName.LIST_GUESTS, GUESTS.search(view) or _has_status(view)),
        (IntentName.LIST_EVENTS, EVENTS.search(view)),
        (IntentName.EVENT_SUMMARY, "event" in slots),
        (IntentName.HELP, GREETING.search(view)),
    )
    return next((intent for intent, matched in checks if matched), IntentName.UNKNOWN)


# Intents about one event: there a city the org has one event in names that event.
_NAMES_AN_EVENT = frozenset(IntentName) - {
    IntentName.LIST_EVENTS,
    IntentName.TRENDS,
    IntentName.DIGEST,
    IntentName.HELP,
    IntentName.UNKNOWN,
}


def _event_by_city(reading: _Reading, ctx: ParseContext) -> None:
    """ "berlin stats", "pending for singapore": the org's only event in that city.

    A city with several events is not resolved to one: a city read after "in" stays the
    city, a bare one becomes the event words, for the bot to ask which.
    """
    slots, tokens = reading.slots, reading.tokens
    if "event" in slots:
        return
    if city := slots.get("city"):
        there = [event.name for event in ctx.events if event.city == city]
        if len(there) == 1:
            slots["event"] = there[0]
            del slots["city"]
        return
    if found := find_lone_city(tokens, ctx.cities):
        there = [event.name for event in ctx.events if event.city == found.value]
        slots["event"] = there[0] if len(there) == 1 else tokens.surface(found.indices)
        tokens.consumed.update(found.indices)


def _has_status(view: str) -> bool:
    return any(pattern.search(view) for pattern, _ in _STATUS_PATTERNS)


def _find_write(reading: _Reading, *, consume: bool = True) -> TargetStatus | None:
    view = reading.view()
    for pattern in _WRITE_PATTERNS:
        if match := pattern.search(view):
            target = match.groupdict().get("target") or match.group("verb")
            if consume and match.groupdict().get("target"):
                reading.take(match, "target")  # "as approved" is the target, not a filter
            return _target_of(target)
    return None


def _target_of(word: str) -> TargetStatus:
    approving = re.match(rf"(?:bulk )?(?:{_APPROVE}|let|bump|approved|accepted)", word)
    return TargetStatus.APPROVED if approving else TargetStatus.DECLINED


def _read_filters(reading: _Reading, intent: IntentName) -> None:
    """Write order, status filter and limit, in that order, so "mark all waitlisted as
    approved" keeps "waitlisted" as the filter and "approved" as the target."""
    if intent in {IntentName.SET_STATUS, IntentName.BULK_STATUS}:
        reading.slots["target_status"] = _find_write(reading)
        if tag := _find_tag(reading):
            reading.slots["tag"] = tag
    for pattern, status in _STATUS_PATTERNS:
        if match := pattern.search(reading.view()):
            reading.slots["status"] = status
            reading.take(match)
            break
    for pattern in _LIMIT_PATTERNS:
        match = pattern.search(reading.view())
        if match and (limit := _number(match.group("n"))):
            reading.slots["limit"] = limit
            reading.take(match, "n")
            break


def _find_tag(reading: _Reading) -> str | None:
    """Our tag a write is limited to: "tagged vip", or "the VIPs" (the vip tag)."""
    if match := TAG.search(reading.view()):
        reading.take(match)
        return match.group("tag")
    if match := VIPS.search(reading.view()):
        reading.take(match)
        return "vip"
    return None


def detect_tag(text: str, ctx: ParseContext | None = None) -> str | None:
    """The tag filter an organizer's words give a write order, or None (Gemini's check)."""
    return _find_tag(_read_entities(text, ctx))


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word) or None
    return NUMBER_WORDS.get(word) if word != "a" else None


def _write_kind(reading: _Reading) -> IntentName:
    """One guest (an email or a name) or many (a quantifier, a domain, a status, a limit)."""
    slots = reading.slots
    if "email" in slots:
        return IntentName.SET_STATUS
    many = BULK.search(reading.view()) or {"domain", "status", "limit"} & slots.keys()
    return IntentName.BULK_STATUS if many else IntentName.SET_STATUS


def _read_leftovers(reading: _Reading, intent: IntentName) -> None:
    """Free-text slots read from whatever no rule consumed."""
    slots = reading.slots
    if "event" not in slots and (words := _words(reading, _RAW_EVENT)):
        slots["event"] = words
    unnamed_city = intent is IntentName.LIST_EVENTS and "city" not in slots
    if unnamed_city and (words := _words(reading, _UNKNOWN_CITY)):
        slots["city"] = words.title()
    if intent in {IntentName.FIND_GUEST, IntentName.SET_STATUS} and "email" not in slots:
        patterns = (_GUEST_AFTER_VERB, _GUEST_LET_IN, _GUEST_IN_QUESTION)
        if words := next(filter(None, (_words(reading, pattern) for pattern in patterns)), None):
            slots["guest"] = words


def _words(reading: _Reading, pattern: re.Pattern[str]) -> str | None:
    """The surface words a pattern captured, unless they are only filler or command words."""
    match = pattern.search(reading.view())
    if not match:
        return None
    words = match.group("words").split()
    if not words or words[0] in _FILLER or any(word in KEYWORDS for word in words):
        return None
    surface = reading.surface(match, "words")
    return surface if len(surface) <= MAX_FREE_TEXT else None
