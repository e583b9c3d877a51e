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
accept, let in, bump off the waitlist, green light, say yes/no to, sign off on, thumbs up/down,
decline, reject, deny, turn down, turn away, kick out, nix, veto, mark/set/move ... as
approved/declined; "ok", "allow", "axe", "ditch" and "pass on" only with a guest right after
them), never negated ("don't approve"), held back ("hold off on approving", "should I approve
…?", "is it ok to approve …": those are not understood, unless the message also asks for
something to read), asked about ("did I approve ...?", "who got kicked out?") nor carrying an
exception the intent cannot hold ("approve all except acme.com").

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
    return re.compile(rf"(?<![\w@.])(?:{pattern})(?![\w@])")


_APPROVE = r"approve|accept|admit|green light|say yes to|sign off on|thumbs up|rubber stamp"
_DECLINE = r"decline|reject|deny|refuse|turn down|nix|veto|say no to|thumbs down"
# Verbs that are orders only with a guest object right after them: "ok everyone from acme.com",
# "allow ada@x.com", "axe the waitlist" (but not "ok thanks", "ok all good").
_APPROVE_WITH_OBJECT = r"ok|allow"
_DECLINE_WITH_OBJECT = r"axe|ax|ditch|pass on|bounce"
_GUEST_OBJECT = (
    r"(?= (?P<object>(?:the |all (?:of )?(?:the )?)?(?:whole |entire |first \S+ |rest |remaining )?"
    r"(?:\| )?"
    r"(?:everyone|everybody|anyone|anybody|all(?! (?:good|set|right|done|clear|fine|sorted)\b)"
    r"|wait ?list(?:ed)?|pending|guests?|people|folks|requests|them|those)\b(?! [,;:.?!]))"
    r"|(?P<gap> \|))"
)
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
    r"(?<!shall i )(?<!shall we )(?<!got the )(?<!get the )(?<!got a )(?<!gets the )"
)
# Orders held back, doubted or asked about: "don't decline the waitlist, just wait", "hold off
# on approving …", "should I approve …?", "is it ok to approve …". Never a write; unknown
# unless the message also asks for something to read ("… just show me who is pending").
_ORDER_WORD = (
    r"(?:approv(?:e|ing|als?)|accept(?:ing)?|admit(?:ting)?|declin(?:e|ing)|reject(?:ing|ions?)?"
    r"|deny(?:ing)?|refus(?:e|ing)|turn(?:ing)?(?: \S+){0,3}? (?:down|away)|kick(?:ing)?"
    r"|boot(?:ing)?|bump(?:ing)?|let(?:ting)?|nix(?:ing)?|veto(?:ing)?|ax(?:e|ing)|ditch(?:ing)?"
    r"|green light(?:ing)?|say(?:ing)? (?:yes|no)|thumbs (?:up|down)|sign(?:ing)? off"
    r"|wav(?:e|ing)|allow(?:ing)?|ok|mark(?:ing)?|mov(?:e|ing)|set(?:ting)?|rubber stamp(?:ing)?"
    r"|bounc(?:e|ing)|pass(?:ing)? on)"
)
HESITATION = _rx(
    r"(?:do not|never|not yet|no need to|hold(?:ing)? off|hold on|wait(?:ing)? (?:before|to|on"
    r"|with|until)|let us not|not sure|should (?:i|we)|shall (?:i|we)|what if"
    r"|(?:i|we) (?:should|could|might|may)|i think|i guess|probably"
    r"|(?:is|would) it (?:be )?(?:ok|fine|wise|a good idea|alright)|do you think|maybe|perhaps"
    r"|thinking (?:about|of)|considering|stop|pause|before|think|rather not|will not|would not"
    r"|not going to|(?:do|does|did) not (?:want|need) to|(?:does|would|will) it make sense"
    r"|(?:do|did) (?:i|we) (?:need|have) to|(?:am i|are we) (?:supposed|meant) to"
    r"|what happens if(?: (?:i|we))?|if (?:i|we)|would it|wouldn't it)"
    rf"(?: [^\s,;:.?!]+){{0,4}}? {_ORDER_WORD}(?![\w@])"
    r"|(?:hold(?:ing)? off|let us not|do not do anything|do nothing)(?![\w@])"
    # A condition or an exception the bot cannot write ("unless they are from acme.com" would
    # otherwise read as the filter itself), nobody as the object, or a joke.
    rf"|{_ORDER_WORD} (?:none|nobody|no one|noone)\b|\bunless\b|\bif there\b|\bjk\b"
    r"|\bjust kidding\b"
)
# "who did we give the green light to?", "how many have we said no to": asked about the past.
ASKED_ABOUT_THE_PAST = _rx(
    r"^(?:who|whom|which|how many|what|when)(?: [^\s,;:.?!|]+){0,3}? (?:did|have|has|had|got"
    r"|was|were|been)"
)
# An order taken back at the end of the message: "approve everyone pending — actually no, wait".
TAKEN_BACK = _rx(
    r"(?<=\S )(?<!not )(?:actually (?:no|not|wait|do not|hold)|no wait|scratch that|never mind"
    r"|cancel that|on second thought|hold on|wait|nope|not yet)"
    r"(?: (?:[,;:.?!]|please|pls|then|now|yet|sec|second|minute|a|no|wait|hold|on|do|not|that"
    r"|it|for))*$"
)
# "is there anything for me to approve?", "anyone left to review": a question about the work.
WORK_LEFT = _rx(
    r"(?:^(?:is|are) there|^any(?:thing|one|body)?|^(?:who|what|how many))(?: [^\s,;:.!]+){0,5}?"
    r" (?:left |still |waiting )?to (?:approve|accept|decline|reject|review|let)"
)
# An exception the intent cannot carry ("approve all except acme.com") must not become the
# opposite filter; such an order is not understood rather than half read.
EXCEPTION = _rx(r"(?:except|excluding|apart from|other than|but not|besides|save for)")
READ_REQUEST = _rx(
    r"(?:^(?:who|which|how|what|where|list|show|tell|give|count|find|export|send)"
    r"|(?:just|only|please|and|then|instead|but|,) (?:show|list|tell me|give me|count|export"
    r"|send me|let me see)|see who|how many|who (?:is|are|has|have|got))"
)
_WRITE_PATTERNS = (
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>(?:bulk )?(?:{_APPROVE}))"),
    _rx(
        rf"{_NOT_AN_ORDER}(?P<verb>let|wave)(?! me\b| us\b)(?: \S+){{0,6}}? (?:in|into|through)"
        r"(?= |$)"
    ),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>{_APPROVE_WITH_OBJECT}|{_DECLINE_WITH_OBJECT}){_GUEST_OBJECT}"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>{_BUMP})(?= |$)"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>(?:bulk )?(?:{_DECLINE}))"),
    _rx(rf"{_NOT_AN_ORDER}(?P<verb>{_KICK_OUT}|{_BOOT})"),
    _rx(
        rf"{_NOT_AN_ORDER}(?P<verb>mark|set|move|change|switch|put|update)(?: \S+){{1,8}}? "
        rf"(?:as|to|into) {_TARGET_WORD}"
    ),
)
_STATUS_PATTERNS = tuple((_rx(pattern), status) for pattern, status in STATUS_SYNONYMS)
# "ten people": a number in words (not "a"/"one", which are articles as often as counts).
_MANY_WORDS = "|".join(word for word in NUMBER_WORDS if word not in {"a", "one"})
_LIMIT_PATTERNS = (
    _rx(
        r"(?:top|first|last|latest|next|only|just|max|maximum|limit(?: to)?|up to) "
        r"(?P<n>\d{1,4}|[a-z]+)"
    ),
    _rx(
        rf"(?P<n>\d{{1,4}}|{_MANY_WORDS}) (?:\S+ )?(?:guests?|people|attendees|events?|names"
        r"|entries|rows|folks|companies|domains|cities|months)"
    ),
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
    r"|(?:cancel|delete|reschedule|postpone|rename|create|edit|set up) (?:the |my |our |this |that"
    r" |an? |new )*(?:\||events?\b)"
)
# "what's coming up", "anything next week": dates and a question, about the calendar.
WHAT_IS_ON = _rx(r"^(?:what|anything|any|show|list)|^[|?!,;:. ]*$")
EXPORT = _rx(
    r"export|csv|download|spreadsheet|excel|xlsx|google sheets?|as an? file|to an? file"
    r"|in an? file|xlsx?|dump"
)
SYNC = _rx(
    r"re ?sync|sync|refresh|reload|refetch|fetch (?:fresh|new|the latest|latest)"
    r"|(?:pull|update|import|fetch|grab|get|bring)(?: \S+){0,5}? from luma"
    r"|pull (?:in |down )?(?:the )?(?:latest|newest|fresh|new data)"
    r"|(?:latest|newest|fresh|new) (?:data |numbers |guests |changes )?from luma"
)
DIGEST = _rx(
    r"digest|recap|briefing|brief me|catch me up|what did i miss|what have i missed"
    r"|(?:daily|weekly|morning|evening) (?:summary|report|update|overview)"
)
DIGEST_WITHOUT_EVENT = _rx(
    r"what is new|what happened|any updates|updates|anything new|any news|news"
    r"|(?:summary|rundown|overview|update) (?:of|for) \|"
)
_SIGNED_UP = (
    r"(?:on|in|registered|register|coming|going|attending|approved|been|signed|sign|checked"
    r"|check|attend|attended|show|showed|turn|turned|get|got|make|made|rsvp|rsvped)"
)
# Words that start a question about the events, not about a person: "is anything happening".
_NOT_A_PERSON = (
    r"(?!there |it |this |the |anyone |anybody |everyone |anything |something |someone "
    r"|any |we |i |you |they |people |guests |folks |attendees |all |many |most )"
)
FIND = _rx(
    r"^(?:please )?(?:find|look up|lookup|search|where is)"
    rf"|^(?:is|did|has|does|was) {_NOT_A_PERSON}[a-z]+ (?:[a-z]+ ){{0,2}}{_SIGNED_UP}"
    r"|(?:^|can you |could you |please |pls )(?:check|see|verify|confirm|find out) (?:if|whether"
    rf"|that)(?= {_NOT_A_PERSON})"
)
SUMMARY = _rx(
    r"summary|summarize|overview|stats|statistics|attendance|breakdown|report|numbers"
    r"|checkin|check in|checked in|showed up|how is|how are (?:we|things)|how did|how does"
    r"|tell me about|status (?:of|for)|registration look|doing|looking"
)
COUNT = _rx(
    r"how many|number of|count|total|how much|no (?:\. )?of|tally"
    r"|number(?= (?:approved|pending|declined|rejected|waitlisted|invited|registered|going"
    r"|attending|confirmed)\b)"
)
GUESTS = _rx(
    r"guests?|attendees?|people|folks|everyone|everybody|names|guest list|wait ?list"
    r"|waiting list|who (?:is|are|got|has|have|had|registered|signed|did|still|was|were|should)"
    r"|(?:has|have|did|is|are) (?:anyone|anybody|someone|somebody)"
)
EVENTS = _rx(
    r"events?|calendar|schedule|what is on|happening|going on|coming up|anything"
    r"|what do we have|what have we got|what did we (?:do|host|run|hold)|what have we done"
    r"|what we have|stuff|what is there|what is in store"
    r"|what is (?:happening |planned |scheduled )?(?:in|at) \|"
)
# "more than one of our events", "two or more events", "multiple events": a repeat guest.
_SEVERAL = (
    r"(?:more than (?:one|1)|several|multiple|many|other|previous|earlier|past"
    r"|(?:two|2) or more|at least (?:two|2)|a few|(?:two|2|a couple)(?: of)?)"
)
REPEAT = _rx(
    r"(?:repeat|returning|recurring|loyal|frequent|regular|familiar|habitual) (?:guests?"
    r"|attendees?|visitors?|people|folks|registrants?|faces)|regulars|repeaters|super ?fans"
    r"|(?:came|come|been|attended|seen|joined|visited)(?: \S+){0,3}? before(?= [?!,;:.]|$| at"
    r"| for| to| in)|(?:came|come|coming|keep coming|keeps coming) back"
    r"|(?:comes?|came|attends?|shows? up|showed up|registers?|returns?) (?:every|each)"
    r" (?:single )?time|(?:came|come|attended|registered|signed up)(?: \S+){0,3}? again"
    r"|(?:attended|attend|registered for|signed up for|been to|came to"
    r"|come to|went to|gone to|showed up (?:at|to|for)|joined|visited) (?:our |my |the )?"
    rf"{_SEVERAL} (?:of (?:our|my|the) )?(?:events|of (?:our|my|them|those|the events))"
    r"|(?:at|in|to|for) (?:more than (?:one|1)|multiple|several|(?:two|2) or more"
    r"|at least (?:two|2)) (?:of (?:our|my|the) )?events"
)


def _asks_for_repeats(reading: _Reading) -> bool:
    """REPEAT in the words left, or in all of them: "previous events" was read as a date."""
    if REPEAT.search(reading.view()):
        return True
    words = " ".join(token.norm for token in reading.tokens.items if token.kind == "word")
    return bool(REPEAT.search(words))


VIPS = _rx(
    r"vips?|(?:very |most )?important (?:guests|people|attendees|folks)|big names"
    r"|(?:key|notable|high profile) (?:guests|people|attendees)|big shots|bigwigs"
    r"|heavy hitters|celebs|celebrities|notables"
)
_BY = r"(?:by|per|each|every|across|for each|split by|broken down by)"
_GROUPS = r"(?:email )?(?:domains|companies|cities|employers|months|organi[sz]ations)"
_MEASURES = (
    r"(?:attendance|registrations?|signups|turnout|approvals?|no shows?|guests|people"
    r"|show ups|checkins?)"
)
TRENDS = _rx(
    r"trends?|trending|over time|month over month|year over year"
    r"|(?:top|best|biggest|leading|most active|highest|rank|ranking|ranked|leaderboard"
    rf"|most common|most frequent|most popular)(?: \S+){{0,2}}? {_GROUPS}"
    rf"|{_GROUPS} (?:by|ranked by|with the (?:most|highest|best|lowest|worst)) {_MEASURES}"
    rf"|(?:which|what) {_GROUPS} (?:have|has|had|get|got|bring|brings) (?:the )?(?:best|most"
    r"|highest|biggest|lowest|worst)"
    rf"|(?:what|which) {_GROUPS} (?:do|are|did) (?:our |the )?(?:guests|people|attendees|folks)"
    r" (?:from|work|come from)|where do (?:our |the )?(?:guests|people|attendees|folks) work"
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
    ("company", _rx(r"compan(?:y|ies)|employers?|organi[sz]ations?|work")),
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
    r"(?:^(?:is|did|has|does|was)|(?:check|see|verify|confirm|find out) (?:if|whether|that))"
    rf" (?P<words>[a-z]+(?: [a-z]+)?)(?= (?:is |has |was |got )?{_SIGNED_UP}\b)"
)
MAX_FREE_TEXT = 80  # longer "names" are pasted text, not an event, city or guest
_FILLER = word_set(
    """
    the a an my our this that his her their these those some any all me us you it him
    anything everything something nothing one more most multiple several many each every
    other both either two few
    """
)
_NOT_IN_A_CITY = word_set("for to of with from about by store mind")
# "across all events", "in total": a count over the whole calendar, not a list of events.
ACROSS_ALL = _rx(
    r"(?:(?:across|over|for|in|at|from) (?:all|every|each)(?: of)?(?: (?:my|our|the))? events?"
    r"|across (?:my |our |the )?events|all (?:my |our |the )?events (?:combined|together)"
    r"|in total|overall|altogether)"
)


@dataclass
class _Reading:
    """Slots found so far while reading one message."""

    tokens: Tokens
    slots: dict[str, Any] = field(default_factory=dict)
    # Another known event is named beside the one taken ("for the dinner and the mixer"): a
    # write must not pick one of them.
    other_event: bool = False

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
        repeat = REPEAT.search(reading.view()) if intent is IntentName.REPEAT_GUESTS else None
        if repeat and "event" in repeat.group():
            reading.take(repeat)  # "came to 2 or more events" is the segment, not a limit
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
        other = find_event(tokens, events)
        reading.other_event = other is not None and other.value != event.value
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
    if HESITATION.search(view):
        if not READ_REQUEST.search(view):
            return IntentName.UNKNOWN  # "hold off on approving …": neither a write nor a read
    elif _find_write(reading, consume=False, unless_doubted=False):
        if EXCEPTION.search(view) or TAKEN_BACK.search(view) or reading.other_event:
            return IntentName.UNKNOWN
        # No write filters by a segment we cannot express: "approve the repeat guests" lists
        # them instead of approving everyone the other words match.
        if _asks_for_repeats(reading):
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
        (IntentName.REPEAT_GUESTS, people and _asks_for_repeats(reading)),
        (
            IntentName.COUNT_GUESTS,
            COUNT.search(view)
            and ACROSS_ALL.search(view)
            and (GUESTS.search(view) or _has_status(view)),
        ),
        (IntentName.VIP_GUESTS, people and VIPS.search(view)),
        (IntentName.TRENDS, "event" not in slots and TRENDS.search(view)),
        (IntentName.FIND_GUEST, "email" in slots or FIND.search(view)),
        (IntentName.EVENT_SUMMARY, SUMMARY.search(view)),
        (
            IntentName.LIST_EVENTS,
            COUNT.search(view)
            and not (GUESTS.search(view) or _has_status(view))
            and EVENTS.search(view),
        ),
        (IntentName.COUNT_GUESTS, COUNT.search(view)),
        (IntentName.LIST_GUESTS, GUESTS.search(view) or _has_status(view)),
        (IntentName.LIST_EVENTS, EVENTS.search(view)),
        (IntentName.EVENT_SUMMARY, "event" in slots),
        (
            IntentName.LIST_EVENTS,
            {"date_from", "date_to"} & slots.keys() and WHAT_IS_ON.search(view),
        ),
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


def _find_write(
    reading: _Reading, *, consume: bool = True, unless_doubted: bool = True
) -> TargetStatus | None:
    """The target of the order in the message; none when it is held back or has an
    exception the intent cannot carry (`unless_doubted=False` looks past those)."""
    view = reading.view()
    doubts = (HESITATION, EXCEPTION, TAKEN_BACK)
    if unless_doubted and any(pattern.search(view) for pattern in doubts):
        return None
    if ASKED_ABOUT_THE_PAST.search(view) or WORK_LEFT.search(view):
        return None
    for pattern in _WRITE_PATTERNS:
        for match in pattern.finditer(view):
            if match.groupdict().get("gap") and not _email_at(reading, match.end("gap")):
                continue  # "ok | stats": the word after "ok" was an event, not an address
            weak = match.groupdict().get("gap") or match.groupdict().get("object")
            if weak and ("?" in view or READ_REQUEST.search(view)):
                continue  # "ok everyone, how many are pending?" is a question
            target = match.groupdict().get("target") or match.group("verb")
            if consume and match.groupdict().get("target"):
                reading.take(match, "target")  # "as approved" is the target, not a filter
            elif consume and re.search(r" (?:to|on)$", target):
                reading.take(match, "verb")  # "say no to Maria Lopez": Maria is no event
            return _target_of(target)
    return None


def _email_at(reading: _Reading, end: int) -> bool:
    """Whether the consumed token ending at `end` of the view is an email address."""
    indices = reading.tokens.indices_in(end - 1, end, reading.tokens.view()[1])
    return any(reading.tokens.items[index].kind == "email" for index in indices)


def _target_of(word: str) -> TargetStatus:
    approving = re.match(
        rf"(?:bulk )?(?:{_APPROVE}|{_APPROVE_WITH_OBJECT}|let|wave|bump|approved|accepted)", word
    )
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
    many = BULK.search(reading.view()) or {"domain", "status", "limit", "tag"} & slots.keys()
    return IntentName.BULK_STATUS if many else IntentName.SET_STATUS


def _read_leftovers(reading: _Reading, intent: IntentName) -> None:
    """Free-text slots read from whatever no rule consumed."""
    slots = reading.slots
    if "event" not in slots and (words := _words(reading, _RAW_EVENT)):
        slots["event"] = words
    unnamed_city = intent is IntentName.LIST_EVENTS and "city" not in slots
    words = _words(reading, _UNKNOWN_CITY) if unnamed_city else None
    if words and not _NOT_IN_A_CITY & set(words.lower().split()):  # "what's in store for …"
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
