"""Follow-ups: reading a message against the previous turn of the same person in the same chat.

Organizers talk in turns: "how many are pending for the founders dinner?", then "and the
waitlisted ones?", "what about the gala?", "approve them", "export that". Such a message is
*elliptical*: it changes one slot of the previous question, or points back at its answer
("them", "that", "those"). `follow_up` merges it with the previous turn: the intent and every
slot the new words do not give are inherited, the ones they give replace the old ones.

After an answer about one person (a `/find` that matched one guest), "her", "him", "them"
mean that guest: "approve her" is the same one-guest change as naming their email, and "is
she on the list for the gala too?" looks them up again. After a list for a range of dates,
"the week after", "the month before", "the next one" move the range (`nlp.dates.shift_span`).

Writes are held to a stricter rule than reads. A write inherits only with an explicit reference
or an elliptical opening ("approve them", "and decline those from @acme.com"), only from a
previous answer about a set of guests (an event and a filter) or about one guest, and never
widens it: a write pointing at nothing it can name ("approve her" with no one remembered, or
after a list of several) is flagged `missing_context`, and the bot asks instead of guessing.
Either way the bot previews the merged write and waits for Confirm.

Pure functions over `Intent`s: no database and no network. The bot stores turns
(`store.conversation`) and hands the previous one in through `ParseContext.previous`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from nlp.dates import Shift, find_shift, shift_span
from nlp.intent import GuestStatus, Intent, IntentName
from nlp.offline import OfflineParser
from nlp.text import word_set

if TYPE_CHECKING:
    from nlp.context import ParseContext

# Intents answered about one event and a filter of its guests: a "result set" to refer to.
GUEST_INTENTS = frozenset(
    {
        IntentName.EVENT_SUMMARY,
        IntentName.COUNT_GUESTS,
        IntentName.LIST_GUESTS,
        IntentName.EXPORT,
        IntentName.REPEAT_GUESTS,
        IntentName.VIP_GUESTS,
        IntentName.BULK_STATUS,
    }
)
# Intents whose slots a follow-up may inherit or change ("what about lisbon?").
FOLLOWABLE = GUEST_INTENTS | {IntentName.LIST_EVENTS}
SLOT_NAMES = ("event", "status", "domain", "tag", "city", "date_from", "date_to", "limit")

_ABOUT = r"(?:what|how) about|same (?:for|with|at|in|from)|(?:the )?same thing for|ditto for"
_OPENER = re.compile(
    rf"^(?:(?:and|also|plus|ok|okay|so|now|then|but|only|just) )+(?:(?:{_ABOUT}) )?"
    rf"|^(?:{_ABOUT}) "
    r"|^(?=(?:for|in|at|from|with) )"
)
# Words pointing back at the previous answer. "that" is a reference unless it starts a
# relative clause ("guests that registered").
_REFERENCE = re.compile(
    r"\b(?:them|they|those|these|it|same (?:ones|people|guests|list)|this list|that list"
    r"|that(?! (?:is|are|was|were|has|have|had|registered|signed|came|attended|paid)\b))\b"
)
# Words that ask for a kind of answer: with them, the new intent stands; without them ("and
# the waitlisted ones?"), the previous question is asked again with the new slots.
_OWN_INTENT = re.compile(
    r"\b(?:how many|number of|count|total|who|whom|list|show|names|export|csv|download"
    r"|spreadsheet|excel|summary|summarize|stats|statistics|overview|breakdown|attendance"
    r"|how is|how are|how did|vips?|repeat|returning|regulars|events?|trends?|sync|digest"
    r"|find|look up|search)\b"
)
# What a message the parsers could not place asks for ("list them", "show those").
_KINDS = (
    (re.compile(r"\b(?:how many|number of|count|total)\b"), IntentName.COUNT_GUESTS),
    (re.compile(r"\b(?:export|csv|download|spreadsheet|excel)\b"), IntentName.EXPORT),
    (re.compile(r"\b(?:list|show|names|who|whom)\b"), IntentName.LIST_GUESTS),
    (
        re.compile(r"\b(?:summary|stats|overview|breakdown|break (?:it |them )?down|attendance)\b"),
        IntentName.EVENT_SUMMARY,
    ),
)
# One person: "approve her", "is he on the list?", "decline this guest".
_PERSON = re.compile(
    r"\b(?:her|him|she|he|his|hers|(?:this|that|the same) (?:person|guest|attendee|one person))\b"
)
# The pronoun as the write verb's object ("bump him off the waitlist"), not anywhere.
_OBJECT_PRONOUN = re.compile(r"^\W*(?:\w+\W+){0,2}?(?:her|him|them)\b")
# "Them" or "they" may be one person too, when the last answer was about one.
_THEM = re.compile(r"\b(?:them|they)\b")
# Words saying a write is about many, never one remembered person.
_MANY = re.compile(r"\b(?:all|every|everyone|everybody|each|both|any|anyone|anybody)\b")
_PERSON_WORDS = word_set("her him she he his hers them they")
_REFERENCE_WORDS = word_set(
    "them they those these it that all of the same one ones people guests list this are is"
)
# "don't approve them" is no order, and no question either.
_NEGATED_ORDER = re.compile(
    r"\b(?:do not|don't|dont|never|no need to)\s+(?:approve|accept|admit|let|decline|reject"
    r"|deny|refuse|turn down)\b"
)
_PUNCTUATION = re.compile(r"[?!,;:.\"“”]+(?=\s|$)")
_IS = re.compile(r"\b(how|what|who|where|that|it)'s\b")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "`": "'"})


@dataclass(frozen=True)
class PreviousTurn:
    """What the bot last answered this person in this chat: the intent and its slots.

    `event_id` is the Luma id of the event the answer was about (the name may be shared by
    several events; the id is not). `guests` says the answer was about a set of that event's
    guests: those matching `status`, `domain` and `tag`. That set is what "them" means.
    `email` is set when the answer was about one person (a `/find` matching one guest; then
    `event` is the one event they registered for, if only one): the person "her" means.
    """

    intent: IntentName
    event: str | None = None
    event_id: str | None = None
    status: GuestStatus | None = None
    domain: str | None = None
    tag: str | None = None
    city: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    guests: bool = False
    email: str | None = None

    @property
    def has_guests(self) -> bool:
        """The answer was about one event's guests (a set "them" can mean)."""
        return self.guests and self.event_id is not None and self.intent in GUEST_INTENTS

    @property
    def has_guest(self) -> bool:
        """The answer was about one person (the one "her", "him" or "them" means)."""
        return self.email is not None and not self.has_guests

    def slots(self) -> dict[str, Any]:
        """The slots as JSON values, without the empty ones."""
        values: dict[str, Any] = {
            "event": self.event,
            "event_id": self.event_id,
            "email": self.email,
            "status": self.status.value if self.status else None,
            "domain": self.domain,
            "tag": self.tag,
            "city": self.city,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }
        return {key: value for key, value in values.items() if value is not None}

    @classmethod
    def from_slots(
        cls, intent: str, slots: dict[str, Any], *, guests: bool = False
    ) -> PreviousTurn | None:
        """Back from `slots()`; None for a stored turn this code no longer understands."""
        try:
            return cls(
                intent=IntentName(intent),
                event=slots.get("event"),
                event_id=slots.get("event_id"),
                status=GuestStatus(slots["status"]) if slots.get("status") else None,
                domain=slots.get("domain"),
                tag=slots.get("tag"),
                city=slots.get("city"),
                date_from=_date(slots.get("date_from")),
                date_to=_date(slots.get("date_to")),
                guests=guests,
                email=slots.get("email"),
            )
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        """One line for Gemini's prompt: `intent=count_guests, event=…, status=…`. A remembered
        guest's email is not sent; the offline rules put it back (`follow_up`)."""
        shown = {k: v for k, v in self.slots().items() if k not in {"event_id", "email"}}
        if self.email:
            shown["guest"] = "one person (her, him, them)"
        return ", ".join([f"intent={self.intent.value}", *(f"{k}={v}" for k, v in shown.items())])


@dataclass(frozen=True)
class FollowUp:
    """A parsed message after reading it against the previous turn.

    `event_id` is set when the event was inherited (resolve it by id: no second guess at a
    name); `inherited` names the slots taken from the previous turn; `missing_context` says
    the message points back at an answer there is none of (expired, or never given), so the
    bot must ask.
    """

    intent: Intent
    event_id: str | None = None
    inherited: tuple[str, ...] = field(default=())
    missing_context: bool = False

    @property
    def used_context(self) -> bool:
        return bool(self.inherited)


def normalized(text: str) -> str:
    """Lowercase words with single spaces, no sentence punctuation, "how's" as "how is"."""
    words = _PUNCTUATION.sub(" ", text.translate(_QUOTES).casefold())
    return " ".join(_IS.sub(r"\1 is", words).split())


def follow_up(text: str, intent: Intent, ctx: ParseContext) -> FollowUp:
    """`intent` (what a parser read in `text` alone) merged with `ctx.previous`."""
    previous = ctx.previous
    words = normalized(text)
    opener = _OPENER.match(words)
    elliptical, refers = opener is not None, _REFERENCE.search(words) is not None
    person = _PERSON.search(words) is not None
    intent = _without_reference_event(_without_pronoun_guest(intent))
    if (refers or person) and _NEGATED_ORDER.search(words):
        return FollowUp(Intent(intent=IntentName.UNKNOWN))
    if intent.is_write:
        return _write(intent, _as_written(text, ctx), previous, words, elliptical or refers)
    pronoun = person or _THEM.search(words) is not None
    if intent.intent is IntentName.FIND_GUEST and pronoun and not (intent.email or intent.guest):
        return _person_again(intent, previous)  # "is she on the list for the gala too?"
    span = None
    if (shift := find_shift(words)) is not None:
        span = _shifted(previous, shift)
        if span is None and shift.unit is not None:  # "the week after" what?
            return FollowUp(intent, missing_context=True)
        elliptical = elliptical or span is not None
    if previous is None or previous.intent not in FOLLOWABLE:
        unplaced = intent.intent is IntentName.UNKNOWN and (elliptical or bool(_kind_of(words)))
        guests = intent.intent in GUEST_INTENTS and not (intent.event or intent.city)
        return FollowUp(intent, missing_context=(elliptical or refers) and (unplaced or guests))
    rest = words[opener.end() :] if opener else words
    own = _own_slots(intent, rest, ctx, elliptical and span is None)
    if span is not None:  # "and the week after?": the previous dates, moved
        own["date_from"], own["date_to"] = span
    implicit = intent.intent in GUEST_INTENTS and not ({"event", "city"} & own.keys())
    if not (elliptical or refers or implicit):
        return FollowUp(intent)
    name = intent.intent
    if intent.intent is IntentName.UNKNOWN:
        kind = _kind_of(rest) or (previous.intent if elliptical else None)
        if kind is None:
            return FollowUp(intent)
        name = kind
    elif (elliptical or refers) and not _OWN_INTENT.search(rest):
        name = previous.intent  # "and the waitlisted ones?": the same question again
    if name is IntentName.BULK_STATUS:  # no write without its own write words
        name = IntentName.COUNT_GUESTS
    if name is IntentName.LIST_EVENTS and {"event", "status", "domain"} & own.keys():
        name = IntentName.LIST_GUESTS  # "and the pending ones?" after a list of events
    if name not in FOLLOWABLE:
        return FollowUp(intent)
    return _merged(name, own, previous, ctx) or FollowUp(intent)


def _write(
    intent: Intent, written: Intent, previous: PreviousTurn | None, words: str, follows: bool
) -> FollowUp:
    """A write inherits the previous answer's event and filter only when it points back at
    it and its words name no event and no guest of their own; with nothing to point at, the
    bot must ask. What the words say is the offline reading of them (`written`), whichever
    parser answered: Gemini, which saw the previous turn, may not move a write elsewhere."""
    if _one_person(written, words, previous):
        return _for_the_person(intent, written, previous)
    if not follows and not written.event and previous and intent.event == previous.event:
        # Gemini took the event from the previous turn although the words neither name it
        # nor point back ("approve all pending"): no implicit event for a write; the bot asks.
        return FollowUp(intent.model_copy(update={"event": None}))
    if not follows or written.event or written.email or written.guest:
        return FollowUp(intent)
    if previous is None or not previous.has_guests:
        return FollowUp(intent, missing_context=True)
    slots: dict[str, Any] = {
        "intent": IntentName.BULK_STATUS,
        "target_status": intent.target_status,
        "event": previous.event,
        "limit": written.limit,
    }
    inherited = ["event"]
    for name in ("status", "domain", "tag"):
        own = getattr(written, name)
        slots[name] = own if own is not None else getattr(previous, name)
        if own is None and slots[name] is not None:
            inherited.append(name)
    try:
        merged = Intent.model_validate(slots)
    except ValidationError:
        return FollowUp(intent, missing_context=True)
    return FollowUp(merged, previous.event_id, tuple(inherited))


def _one_person(written: Intent, words: str, previous: PreviousTurn | None) -> bool:
    """The write's words point at one person they do not name: "approve her", "decline him
    for the mixer", or "let them in" after an answer about one guest."""
    if written.email or written.guest or written.domain or written.tag or _MANY.search(words):
        return False
    if written.status is not None and not _OBJECT_PRONOUN.search(words):
        return False  # "approve the waitlisted for her dinner": a group; "bump him off …": one
    # "her" in "approve pending for Her Campus Night" is the event's name, not a person.
    in_name = len(_PERSON.findall(normalized(written.event))) if written.event else 0
    if len(_PERSON.findall(words)) > in_name:
        return True
    return previous is not None and previous.has_guest and _THEM.search(words) is not None


def _for_the_person(intent: Intent, written: Intent, previous: PreviousTurn | None) -> FollowUp:
    """The remembered guest's one-guest change: the event the words name, else the one the
    answer was about, else none (the bot then asks which of their events). No remembered
    guest, or a list of several: the bot asks whom."""
    if previous is None or not previous.has_guest:
        return FollowUp(intent, missing_context=True)
    event, event_id, inherited = written.event, None, ["email"]
    if not event and previous.event:
        event, event_id = previous.event, previous.event_id
        inherited.append("event")
    slots = {
        "intent": IntentName.SET_STATUS,
        "email": previous.email,
        "event": event,
        "target_status": intent.target_status,
    }
    try:
        merged = Intent.model_validate(slots)
    except ValidationError:
        return FollowUp(intent, missing_context=True)
    return FollowUp(merged, event_id, tuple(inherited))


def _person_again(intent: Intent, previous: PreviousTurn | None) -> FollowUp:
    """ "Is she on the list for the gala too?": the remembered guest looked up again."""
    if previous is None or not previous.has_guest:
        return FollowUp(intent, missing_context=True)
    try:
        merged = Intent.model_validate({**intent.model_dump(), "email": previous.email})
    except ValidationError:
        return FollowUp(intent, missing_context=True)
    return FollowUp(merged, inherited=("email",))


def _shifted(previous: PreviousTurn | None, shift: Shift) -> tuple[date, date] | None:
    """The previous turn's dates moved by `shift`; None when it had no closed range."""
    if previous is None or previous.date_from is None or previous.date_to is None:
        return None
    return shift_span(previous.date_from, previous.date_to, shift)


def _as_written(text: str, ctx: ParseContext) -> Intent:
    """The offline reading of the words alone, a reference read as no event or guest."""
    read = OfflineParser().parse(text, replace(ctx, previous=None))
    return _without_reference_event(_without_pronoun_guest(read))


def _merged(
    name: IntentName, own: dict[str, Any], previous: PreviousTurn, ctx: ParseContext
) -> FollowUp | None:
    slots: dict[str, Any] = {"intent": name, "limit": own.get("limit")}
    inherited: list[str] = []
    event_id = None
    if name is IntentName.LIST_EVENTS:
        keys: tuple[str, ...] = ("city", "date_from", "date_to")
    else:
        keys = ("status", "domain", "tag")
        if own.get("event"):
            slots["event"] = own["event"]
        elif own.get("city"):  # the city's one event, else the bot offers its events
            slots["city"] = own["city"]
            slots["event"] = _only_event_in(own["city"], ctx)
        elif previous.event:
            slots["event"], event_id = previous.event, previous.event_id
            inherited.append("event")
        elif previous.city and (only := _only_event_in(previous.city, ctx)):
            slots["event"] = only  # "who's coming to it?" after the events of a city
            inherited.append("event")
    for key in keys:
        if own.get(key) is not None:
            slots[key] = own[key]
        elif (value := getattr(previous, key)) is not None:
            slots[key] = value
            inherited.append(key)
    if name is not IntentName.LIST_EVENTS and own.get("date_from"):
        slots["date_from"], slots["date_to"] = own["date_from"], own.get("date_to")
    try:
        merged = Intent.model_validate(slots)
    except ValidationError:
        return None
    kept = tuple(key for key in inherited if getattr(merged, key, None) is not None)
    return FollowUp(merged, event_id if "event" in kept else None, kept)


def _own_slots(intent: Intent, rest: str, ctx: ParseContext, elliptical: bool) -> dict[str, Any]:
    """The slots the new words give. A parser drops the slots of a message it cannot place
    ("what about lisbon?" is `unknown`), so a fragment is read again as a guest question."""
    own = {name: getattr(intent, name) for name in SLOT_NAMES if getattr(intent, name, None)}
    if own or not elliptical or not rest:
        return own
    city = next((c for c in ctx.cities if c.casefold() == _bare_words(rest)), None)
    if city is not None:
        return {"city": city}
    for question in (f"list guests {rest}", f"list guests for {rest}"):
        read = _as_written(question, ctx)
        found = {name: getattr(read, name) for name in SLOT_NAMES if getattr(read, name, None)}
        if found:
            return found
    return {}


def _without_reference_event(intent: Intent) -> Intent:
    """A parser reads the `them` of "how many of them?" as an event name; it is a reference."""
    if intent.event and _only_reference(intent.event):
        return intent.model_copy(update={"event": None})
    return intent


def _without_pronoun_guest(intent: Intent) -> Intent:
    """A parser reads the `she` of "is she on the list?" as a guest's name; it is a pronoun."""
    if intent.guest and all(word in _PERSON_WORDS for word in normalized(intent.guest).split()):
        return intent.model_copy(update={"guest": None})
    return intent


def _only_reference(words: str) -> bool:
    return all(word in _REFERENCE_WORDS for word in normalized(words).split())


def _only_event_in(city: str, ctx: ParseContext) -> str | None:
    names = {e.name for e in ctx.events if (e.city or "").casefold() == city.casefold()}
    return names.pop() if len(names) == 1 else None


def _kind_of(words: str) -> IntentName | None:
    return next((kind for pattern, kind in _KINDS if pattern.search(words)), None)


def _bare_words(text: str) -> str:
    words = [word for word in text.split() if word not in {"the", "in", "at", "for"}]
    return " ".join(words)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None
