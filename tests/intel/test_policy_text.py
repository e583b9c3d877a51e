"""A policy rule in words, as the bot takes it, and the friendly errors when it is not one."""

from __future__ import annotations

import pytest

from intel.approval_policy import Action, AnswerHow, AnswerTest, Rule
from intel.policy_text import EXAMPLES, RuleTextError, parse_rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # Every form the module's docstring documents.
        ("approve from acme.com", Rule(action=Action.APPROVE, domains=["acme.com"])),
        (
            "approve from acme.com, beta.io",
            Rule(action=Action.APPROVE, domains=["acme.com", "beta.io"]),
        ),
        ("approve @acme.com", Rule(action=Action.APPROVE, domains=["acme.com"])),
        ("approve domain ACME.com", Rule(action=Action.APPROVE, domains=["acme.com"])),
        (
            "decline email a@b.com, c@d.com",
            Rule(action=Action.DECLINE, emails=["a@b.com", "c@d.com"]),
        ),
        ("hold tag speaker", Rule(action=Action.HOLD, tags=["speaker"])),
        ("hold #speaker", Rule(action=Action.HOLD, tags=["speaker"])),
        ("approve vip", Rule(action=Action.APPROVE, vip=True)),
        ("approve vip 60", Rule(action=Action.APPROVE, min_vip_score=60)),
        ("approve repeat", Rule(action=Action.APPROVE, repeat=True)),
        ("approve ticket tt-speaker", Rule(action=Action.APPROVE, ticket_types=["tt-speaker"])),
        ("waitlist seats left 5", Rule(action=Action.WAITLIST, max_seats_left=5)),
        (
            'hold answer "What do you do" contains recruiter',
            Rule(
                action=Action.HOLD, answer=AnswerTest(question="What do you do", value="recruiter")
            ),
        ),
        ("approve everyone", Rule(action=Action.APPROVE)),
        ("approve", Rule(action=Action.APPROVE)),
    ],
)
def test_each_documented_form(text: str, rule: Rule) -> None:
    assert parse_rule(text) == rule


def test_the_examples_all_parse() -> None:
    for line in EXAMPLES.splitlines():
        assert isinstance(parse_rule(line), Rule), line


@pytest.mark.parametrize(
    ("word", "action"),
    [
        ("approve", Action.APPROVE),
        ("Accept", Action.APPROVE),
        ("admit", Action.APPROVE),
        ("waitlist", Action.WAITLIST),
        ("wait-list", Action.WAITLIST),
        ("decline", Action.DECLINE),
        ("reject", Action.DECLINE),
        ("BAN", Action.DECLINE),
        ("hold", Action.HOLD),
        ("review", Action.HOLD),
    ],
)
def test_action_synonyms(word: str, action: Action) -> None:
    assert parse_rule(f"{word} from acme.com") == Rule(action=action, domains=["acme.com"])


def test_comma_lists_with_or_without_spaces() -> None:
    expected = Rule(action=Action.APPROVE, domains=["acme.com", "beta.io", "gamma.dev"])
    assert parse_rule("approve from acme.com, beta.io, gamma.dev") == expected
    assert parse_rule("approve from acme.com,beta.io ,gamma.dev") == expected
    assert parse_rule("approve from acme.com, beta.io, gamma.dev,") == expected  # trailing
    assert parse_rule("ban emails x@spam.io,y@spam.io") == Rule(
        action=Action.DECLINE, emails=["x@spam.io", "y@spam.io"]
    )
    assert parse_rule("approve tags speaker, sponsor") == Rule(
        action=Action.APPROVE, tags=["speaker", "sponsor"]
    )
    assert parse_rule("approve tickets tt-1, tt-2") == Rule(
        action=Action.APPROVE, ticket_types=["tt-1", "tt-2"]
    )


def test_shorthands_and_conditions_combine() -> None:
    assert parse_rule("approve #Speaker and @ACME.com and #sponsor") == Rule(
        action=Action.APPROVE, tags=["speaker", "sponsor"], domains=["acme.com"]
    )
    assert parse_rule("approve from acme.com and tag speaker") == Rule(
        action=Action.APPROVE, domains=["acme.com"], tags=["speaker"]
    )
    assert parse_rule("accept guests from @acme.com who are vip with ticket tt-1") == Rule(
        action=Action.APPROVE, domains=["acme.com"], vip=True, ticket_types=["tt-1"]
    )
    assert parse_rule("approve returning guests") == Rule(action=Action.APPROVE, repeat=True)


def test_vip_alone_or_with_a_score() -> None:
    assert parse_rule("approve vip") == Rule(action=Action.APPROVE, vip=True)
    assert parse_rule("approve vips") == Rule(action=Action.APPROVE, vip=True)
    assert parse_rule("approve vip 60") == Rule(action=Action.APPROVE, min_vip_score=60)
    assert parse_rule("approve vip score at least 60") == Rule(
        action=Action.APPROVE, min_vip_score=60
    )
    assert parse_rule("approve vip >= 0") == Rule(action=Action.APPROVE, min_vip_score=0)
    assert parse_rule("approve vip and repeat") == Rule(
        action=Action.APPROVE, vip=True, repeat=True
    )


def test_vips_at_a_domain() -> None:
    # "at" starts a domain unless it is "at least" (a score).
    assert parse_rule("approve vips at acme.com") == Rule(
        action=Action.APPROVE, vip=True, domains=["acme.com"]
    )


def test_seats_left() -> None:
    assert parse_rule("waitlist seats left 5") == Rule(action=Action.WAITLIST, max_seats_left=5)
    assert parse_rule("waitlist seats left 0") == Rule(action=Action.WAITLIST, max_seats_left=0)
    assert parse_rule("waitlist seats left at most 3") == Rule(
        action=Action.WAITLIST, max_seats_left=3
    )
    assert parse_rule("waitlist seats-left <= 2") == Rule(action=Action.WAITLIST, max_seats_left=2)


@pytest.mark.parametrize(
    ("words", "how"),
    [("contains", "contains"), ("has", "contains"), ("is", "equals"), ("equals", "equals")],
)
def test_answer_with_quoted_question_and_value(words: str, how: AnswerHow) -> None:
    rule = parse_rule(f'hold answer "What do you do" {words} "head of talent"')
    assert rule == Rule(
        action=Action.HOLD,
        answer=AnswerTest(question="What do you do", value="head of talent", how=how),
    )


def test_answer_matches_a_pattern() -> None:
    rule = parse_rule(r'hold answer role MATCHES "recruit(er|ing)\b"')
    assert rule == Rule(
        action=Action.HOLD,
        answer=AnswerTest(question="role", value=r"recruit(er|ing)\b", how="matches"),
    )


def test_commas_inside_quotes_are_kept() -> None:
    # A question or pattern with a comma is one quoted word, not a comma list.
    rule = parse_rule('hold answer "Where, exactly" matches "^[0-9]{1,3}$" and from a.io, b.io')
    assert rule == Rule(
        action=Action.HOLD,
        domains=["a.io", "b.io"],
        answer=AnswerTest(question="Where, exactly", value="^[0-9]{1,3}$", how="matches"),
    )


def test_answer_then_more_conditions() -> None:
    assert parse_rule('decline answer "company" is "" and repeat') == Rule(
        action=Action.DECLINE,
        repeat=True,
        answer=AnswerTest(question="company", value="", how="equals"),
    )


# --- errors ---------------------------------------------------------------------------------


def error(text: str) -> str:
    with pytest.raises(RuleTextError) as caught:
        parse_rule(text)
    return str(caught.value)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_asks_for_a_rule(text: str) -> None:
    message = error(text)
    assert message.startswith("Write a rule, for example:")
    assert "approve from acme.com" in message


def test_an_unknown_action() -> None:
    message = error("allow from acme.com")
    assert "A rule starts with what to do: approve, waitlist, decline or hold" in message
    assert "“allow”" in message
    assert "approve from acme.com" in message  # the examples follow


def test_an_unknown_condition() -> None:
    message = error("approve from acme.com and speakers")
    assert "I do not know the condition “speakers”" in message
    assert "seats left" in message  # lists the conditions it knows


@pytest.mark.parametrize("text", ["approve from", "approve from and vip", "approve from , x.io"])
def test_a_condition_without_its_value(text: str) -> None:
    assert "“from” needs a value after it, for example “from acme.com”" in error(text)


@pytest.mark.parametrize("text", ["decline email", "hold tag", "approve ticket and vip"])
def test_other_lists_without_a_value(text: str) -> None:
    assert "needs a value after it" in error(text)


def test_seats_without_a_number() -> None:
    assert "seats left 5" in error("waitlist seats left")
    assert "seats left 5" in error("waitlist seats left few")


def test_an_unclosed_quote() -> None:
    assert "A quote is not closed" in error('hold answer "What do you do contains founder')


def test_an_incomplete_answer() -> None:
    usage = 'answer "What do you do" contains founder'
    assert usage in error("hold answer")
    assert usage in error('hold answer "role" founder')
    assert usage in error('hold answer "role" likes founder')


def test_a_bad_pattern() -> None:
    message = error('hold answer role matches "recruit(er"')
    assert "“recruit(er” is not a pattern I can use" in message
    assert not message.startswith("Value error")


def test_a_bad_domain() -> None:
    message = error("approve from acme")
    assert message == "“acme” is not an email domain (like acme.com)"
    assert "is not an email domain" in error("approve @localhost")
