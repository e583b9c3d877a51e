"""Standing orders in plain words become policy rules; anything else is left to the parser."""

from __future__ import annotations

import pytest

from intel.approval_policy import Action
from intel.policy_phrases import PolicyPhraseError, read_policy_request


def described(text: str) -> tuple[list[str], str, bool, bool]:
    request = read_policy_request(text)
    assert request is not None, text
    rules = [rule.describe() for rule in request.rules]
    return rules, request.event_words, request.all_events, request.turn_on


@pytest.mark.parametrize(
    ("text", "rules", "event", "turn_on"),
    [
        ("auto-approve everyone from acme.com for the founders dinner",
         ["approve email at acme.com"], "founders dinner", True),
        ("Automatically approve people from @Acme.com and beta.io for Founders Dinner.",
         ["approve email at acme.com or beta.io"], "founders dinner", True),
        ("hold students for review", ["hold an answer mentions “student”"], "", False),
        ("hold students and recruiters for review at the winter gala",
         ["hold an answer mentions “student”", "hold an answer mentions “recruiter”"],
         "winter gala", False),
        ("put recruiters on hold for the gala",
         ["hold an answer mentions “recruiter”"], "gala", False),
        ("always decline spam.biz", ["decline email at spam.biz"], "", False),
        ("from now on, waitlist repeat guests for the summer mixer",
         ["waitlist a repeat guest"], "summer mixer", False),
        ("auto approve vips tagged speaker for main conference",
         ["approve tagged speaker and a VIP"], "main conference", True),
        ("ban spammer@bots.example from the gala",
         ["decline email spammer@bots.example"], "gala", False),
        ("auto-approve everyone for the founders dinner",
         ["approve everyone"], "founders dinner", True),
        ("always let in engineers from acme.com to the hackathon",
         ["approve email at acme.com and an answer mentions “engineer”"], "hackathon", False),
        ("auto-hold companies for review for the gala",
         ["hold an answer mentions “company”"], "gala", True),
    ],
)  # fmt: skip
def test_standing_orders_read_as_rules(
    text: str, rules: list[str], event: str, turn_on: bool
) -> None:
    assert described(text) == (rules, event, False, turn_on)


def test_all_events_means_the_calendar_wide_policy() -> None:
    assert described("always decline spam.biz for all events") == (
        ["decline email at spam.biz"],
        "",
        True,
        False,
    )
    assert described("auto-approve acme.com for every event")[2] is True


@pytest.mark.parametrize(
    "text",
    [
        "approve everyone pending from @acme.com for the founders dinner",  # a one-off bulk write
        "how many are pending for the founders dinner?",
        "who is on hold for the gala",
        "decline ada@example.com for the gala",
        "what does auto-approve do?",
    ],
)
def test_other_messages_are_left_to_the_parser(text: str) -> None:
    assert read_policy_request(text) is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("auto-approve for the founders dinner", "Whom should the rule cover?"),
        ("hold tagged !!! for review", "is not one of our tags"),
        ("auto-approve people with 3+ tickets", "I do not know what “3+” means"),
        ("hold a b c d e f g h for review", None),
        ("auto-approve everyone except students for the gala", "cannot say “except”"),
        ("always decline everyone not from acme.com", "cannot say “not”"),
        ("auto-approve non-students for the gala", "cannot say “non-students”"),
    ],
)
def test_what_is_not_understood_is_said(text: str, said: str | None) -> None:
    if said is None:  # single letters are not kinds of people, nor are too many kinds
        with pytest.raises(PolicyPhraseError):
            read_policy_request(text)
        return
    with pytest.raises(PolicyPhraseError) as caught:
        read_policy_request(text)
    assert said in str(caught.value)


def test_every_rule_keeps_the_action() -> None:
    request = read_policy_request("hold students and interns for review")
    assert request is not None
    assert [rule.action for rule in request.rules] == [Action.HOLD, Action.HOLD]
