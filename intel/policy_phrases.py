"""Standing orders in plain words, read into approval policy rules.

    auto-approve everyone from acme.com for the founders dinner
    hold students for review at the winter gala
    always decline spam.biz for all events
    from now on, waitlist repeat guests for the summer mixer

These change how an event's *future* registrations are decided, not the guests there now,
so the bot reads them before the question parser: a standing order must never be taken for
a one-off bulk write. Reading changes nothing; the bot shows the rules and asks to confirm.
Anything in the words that is not understood is an error that says so, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from intel.approval_policy import ANY_QUESTION, Action, AnswerTest, Rule

_VERBS: dict[str, Action] = {
    "approve": Action.APPROVE,
    "accept": Action.APPROVE,
    "admit": Action.APPROVE,
    "let in": Action.APPROVE,
    "decline": Action.DECLINE,
    "reject": Action.DECLINE,
    "turn away": Action.DECLINE,
    "waitlist": Action.WAITLIST,
    "wait-list": Action.WAITLIST,
    "wait list": Action.WAITLIST,
    "hold": Action.HOLD,
}
_VERB = "|".join(sorted((re.escape(verb) for verb in _VERBS), key=len, reverse=True))
# "auto-approve …", "automatically decline …", "always waitlist …", "from now on, hold …"
_STANDING = re.compile(
    rf"^(?:please\s+)?(?:(?P<auto>auto(?:matically)?)[-\s]?|always\s+|from now on,?\s+)"
    rf"(?P<verb>{_VERB})\b(?P<rest>.*)$"
)
# "hold students for review …", "put recruiters on hold …"
_HOLD = re.compile(
    r"^(?:please\s+)?(?:hold|put)\s+(?P<who>.+?)\s+(?:for review|on hold)\b(?P<rest>.*)$"
)
# "ban spam.biz from the gala"
_BAN = re.compile(r"^(?:please\s+)?ban\s+(?P<rest>.+)$")

_EVERYONE = {"everyone", "everybody", "anyone", "anybody", "all"}
_FILLER = _EVERYONE | {
    "people", "guests", "guest", "registrations", "registration", "new", "who", "that",
    "are", "is", "with", "the", "a", "an", "and", "or", "any", "of", "them", "emails",
    "email", "addresses", "address", "registered", "registering", "register", "sign",
    "signing", "up", "folks", "attendees", "applicants", "pending", "please", "automatically",
}  # fmt: skip
# "everyone except students", "not from acme.com": a rule in words cannot say these, and
# reading them as kinds of people would turn the order around.
_NEGATIONS = {
    "except", "but", "not", "unless", "without", "excluding", "exclude", "other", "than",
    "non", "no", "none", "nobody", "never", "don't", "dont", "isn't", "aren't", "apart",
}  # fmt: skip
_EVENT_WORDS = {"for", "at", "to", "from"}  # not in/on: "people in fintech" is no event
_ALL_EVENTS = re.compile(
    r"^(?:all|every|each)(?: (?:of )?(?:my|our|the))? events?$|^everywhere$|^calendar[- ]wide$"
)
_DOMAIN = re.compile(r"^@?[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG = re.compile(r"^#?[a-z0-9][a-z0-9_-]{0,31}$")
_NOUN = re.compile(r"^[a-z][a-z'-]{2,39}$")
MAX_MENTIONS = 5


class PolicyPhraseError(ValueError):
    """A standing order whose words are not all understood; the message says how to write it."""


@dataclass(frozen=True)
class PolicyRequest:
    """The rules a standing order adds, the event it names, and whether it turns auto on."""

    rules: list[Rule]
    event_words: str  # "" when no event is named
    all_events: bool  # "for all events": the calendar-wide policy
    turn_on: bool  # "auto-approve …": the policy also goes to auto mode


def read_policy_request(text: str) -> PolicyRequest | None:
    """The standing order in `text`, None when the words are not one (a question, a
    one-off order), or `PolicyPhraseError` when they are one but not all understood."""
    said = " ".join(text.lower().replace("’", "'").split()).rstrip(".!")
    if found := _STANDING.match(said):
        action, rest = _VERBS[found["verb"]], found["rest"]
        turn_on = found["auto"] is not None
    elif found := _HOLD.match(said):
        action, rest, turn_on = Action.HOLD, f"{found['who']} {found['rest']}", False
    elif found := _BAN.match(said):
        action, rest, turn_on = Action.DECLINE, found["rest"], False
    else:
        return None
    return _request(action, rest.strip(" ,"), turn_on)


def _request(action: Action, rest: str, turn_on: bool) -> PolicyRequest:
    words = [word.strip(",;:") for word in rest.split()]
    words = [word for word in words if word]
    fields: dict[str, list[str] | bool] = {}
    mentions: list[str] = []
    everyone = False
    event_words: list[str] = []
    while words:
        word = words.pop(0)
        if word in _NEGATIONS or word.startswith("non-"):
            raise PolicyPhraseError(
                f"A rule in words cannot say “{word[:20]}”. Write it as two rules, the exception "
                "first: “hold students for review …”, then “auto-approve everyone …” (the first "
                "matching rule decides)."
            )
        if word in _EVENT_WORDS and words and not _DOMAIN.match(words[0]):
            if word == "for" and words[0] == "review":
                words.pop(0)
                continue
            event_words, words = words, []
        elif word in ("from", "at", "domain") and words and _DOMAIN.match(words[0]):
            _add(fields, "domains", words.pop(0).lstrip("@"))
        elif _EMAIL.match(word):
            _add(fields, "emails", word)
        elif _DOMAIN.match(word):
            _add(fields, "domains", word.lstrip("@"))
        elif word in ("tagged", "tag", "labelled", "labeled") and words:
            _add(fields, "tags", _tag(words.pop(0)))
        elif word.startswith("#"):
            _add(fields, "tags", _tag(word))
        elif word in ("vip", "vips"):
            fields["vip"] = True
        elif word in ("repeat", "returning", "repeats", "regulars"):
            fields["repeat"] = True
        elif word in _FILLER:
            everyone = everyone or word in _EVERYONE
        elif _NOUN.match(word):
            mentions.append(_singular(word))
        else:
            raise PolicyPhraseError(f"I do not know what “{word[:40]}” means in a rule.")
    if not (fields or mentions or everyone):
        raise PolicyPhraseError(
            "Whom should the rule cover? For example: “auto-approve everyone from acme.com for "
            "the Founders Dinner” or “hold students for review at the Winter Gala”."
        )
    if len(mentions) > MAX_MENTIONS:
        raise PolicyPhraseError(
            f"That is {len(mentions)} kinds of people; say at most {MAX_MENTIONS} per message."
        )
    event = " ".join(event_words).removeprefix("the ").strip()
    all_events = bool(_ALL_EVENTS.match(event))
    return PolicyRequest(
        _rules(action, fields, mentions), "" if all_events else event, all_events, turn_on
    )


def _rules(action: Action, fields: dict[str, list[str] | bool], mentions: list[str]) -> list[Rule]:
    """One rule, or one per kind of person mentioned ("students and recruiters")."""
    answers: list[AnswerTest | None] = [
        AnswerTest(question=ANY_QUESTION, value=word) for word in mentions
    ]
    try:
        return [
            Rule.model_validate({"action": action, **fields, "answer": answer})
            for answer in answers or [None]
        ]
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "not a rule")).removeprefix("Value error, ")
        raise PolicyPhraseError(message) from None


def _add(fields: dict[str, list[str] | bool], name: str, value: str) -> None:
    listed = fields.setdefault(name, [])
    assert isinstance(listed, list)
    if value not in listed:
        listed.append(value)


def _tag(word: str) -> str:
    tag = word.lstrip("#")
    if not _TAG.match(tag):
        raise PolicyPhraseError(f"“{word[:40]}” is not one of our tags (letters and digits).")
    return tag


def _singular(word: str) -> str:
    """'students' → 'student' (an answer mentioning either then matches)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word
