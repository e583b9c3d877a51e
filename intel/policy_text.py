"""A policy rule written in words, as the bot takes it: `approve from acme.com and tag speaker`.

    <action> [everyone] [<condition> [and <condition>]...]

Actions: approve (accept, let in), waitlist, decline (reject, ban), hold (review).
Conditions:
    from acme.com, beta.io      @acme.com      domain acme.com     email a@b.com, c@d.com
    tag speaker   #speaker      vip            vip 60 (a VIP score of at least 60)
    repeat        ticket <ticket type id>      seats left 5 (while 5 or fewer are left)
    answer "question" contains|is|equals|matches "value"
    answer contains student  (any question, a job title too)
Quotes keep a question or value of several words together.
"""

from __future__ import annotations

import shlex

from pydantic import ValidationError

from intel.approval_policy import ANY_QUESTION, Action, AnswerTest, Rule

ACTION_WORDS: dict[str, Action] = {
    "approve": Action.APPROVE,
    "accept": Action.APPROVE,
    "admit": Action.APPROVE,
    "waitlist": Action.WAITLIST,
    "wait-list": Action.WAITLIST,
    "decline": Action.DECLINE,
    "reject": Action.DECLINE,
    "ban": Action.DECLINE,
    "hold": Action.HOLD,
    "review": Action.HOLD,
}
EXAMPLES = (
    "approve from acme.com\n"
    "decline email spam@example.com, bot@example.com\n"
    "hold tag student\n"
    "approve vip 60\n"
    'hold answer "What do you do" contains recruiter\n'
    "waitlist seats left 0"
)
_FILLER = {"everyone", "all", "guests", "guest", "and", "with", "who", "are", "is", "a", "an"}
_HOW = {"contains": "contains", "has": "contains", "is": "equals", "equals": "equals"}
_HOW |= {"matches": "matches"}


class RuleTextError(ValueError):
    """The words do not make a rule; the message says what to write instead."""


def parse_rule(text: str) -> Rule:
    """The rule these words describe, or `RuleTextError` with a friendly message."""
    try:
        words = _words(text)
    except ValueError:
        raise RuleTextError('A quote is not closed; put “"” around a question or value.') from None
    if not words:
        raise RuleTextError(f"Write a rule, for example:\n{EXAMPLES}")
    action = ACTION_WORDS.get(words[0].lower())
    if action is None:
        raise RuleTextError(
            f"A rule starts with what to do: approve, waitlist, decline or hold, not "
            f"“{words[0][:40]}”. For example:\n{EXAMPLES}"
        )
    fields: dict[str, object] = {"action": action}
    rest = words[1:]
    while rest:
        word = rest.pop(0)
        low = word.lower()
        if low in _FILLER or word == ",":
            continue
        if word.startswith("@") and len(word) > 1:
            _extend(fields, "domains", [word[1:]])
        elif word.startswith("#") and len(word) > 1:
            _extend(fields, "tags", [word[1:]])
        elif low in ("from", "domain", "domains", "at"):
            _extend(fields, "domains", _listed(rest, word))
        elif low in ("email", "emails", "address", "addresses"):
            _extend(fields, "emails", _listed(rest, word))
        elif low in ("tag", "tagged", "tags"):
            _extend(fields, "tags", _listed(rest, word))
        elif low in ("ticket", "tickets"):
            _extend(fields, "ticket_types", _listed(rest, word))
        elif low in ("vip", "vips"):
            if rest and rest[0].lower() == "score":
                rest.pop(0)
            while rest and (
                rest[0] in (">=", "≥", "least") or rest[0:2] == ["at", "least"]
            ):  # "at" alone starts a domain: "vips at acme.com"
                rest.pop(0)
            if rest and rest[0].isdigit():
                fields["min_vip_score"] = int(rest.pop(0))
            else:
                fields["vip"] = True
        elif low in ("repeat", "returning"):
            fields["repeat"] = True
        elif low in ("seats", "seats-left"):
            if rest and rest[0].lower() == "left":
                rest.pop(0)
            while rest and rest[0] in ("<=", "≤", "at", "most"):
                rest.pop(0)
            if not rest or not rest[0].isdigit():
                raise RuleTextError("Say how many seats: for example “seats left 5”.")
            fields["max_seats_left"] = int(rest.pop(0))
        elif low == "answer":
            fields["answer"] = _answer(rest)
        else:
            raise RuleTextError(
                f"I do not know the condition “{word[:40]}”. Conditions I know: from "
                f"(a domain), email, tag, vip, repeat, answer, ticket, seats left. For "
                f"example:\n{EXAMPLES}"
            )
    try:
        return Rule.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "not a rule")).removeprefix("Value error, ")
        raise RuleTextError(message) from None


def _words(text: str) -> list[str]:
    """The words, quotes kept together as one; a comma outside quotes is a word of its own
    (inside quotes it stays: a question "Where, exactly" or a pattern "a{1,3}")."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=",")
    lexer.whitespace_split = True
    lexer.commenters = ""  # "#speaker" is a tag, not a comment
    return list(lexer)


def _extend(fields: dict[str, object], name: str, values: list[str]) -> None:
    current = fields.setdefault(name, [])
    assert isinstance(current, list)
    current.extend(values)


def _listed(rest: list[str], after: str) -> list[str]:
    """The comma-separated values after `after` (at least one), taken off `rest`."""
    if not rest or rest[0] == "," or _starts_condition(rest[0]):
        raise RuleTextError(f"“{after}” needs a value after it, for example “{after} acme.com”.")
    values = [rest.pop(0)]
    while len(rest) >= 2 and rest[0] == ",":
        rest.pop(0)
        values.append(rest.pop(0))
    return values


def _starts_condition(word: str) -> bool:
    return word.lower() in {"and", "from", "email", "tag", "vip", "repeat", "answer", "ticket"}


def _answer(rest: list[str]) -> AnswerTest:
    usage = 'Write an answer condition like: answer "What do you do" contains founder'
    if len(rest) >= 2 and rest[0].lower() in _HOW:  # "answer contains student": any question
        rest.insert(0, ANY_QUESTION)
    if len(rest) < 3 or rest[1].lower() not in _HOW:
        raise RuleTextError(usage)
    question, how, value = rest.pop(0), _HOW[rest.pop(0).lower()], rest.pop(0)
    try:
        return AnswerTest.model_validate({"question": question, "value": value, "how": how})
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", usage)).removeprefix("Value error, ")
        raise RuleTextError(message) from None
