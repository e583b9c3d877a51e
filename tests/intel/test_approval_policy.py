"""Approval policies: the first matching rule decides; nobody is approved by omission."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from intel.approval_policy import (
    NO_RULE_MATCHED,
    Action,
    AnswerTest,
    Decision,
    GuestFacts,
    Rule,
    decide,
)
from luma import LumaGuest

NOBODY_KNOWN = GuestFacts()


def guest(
    email: str = "ada@acme.com",
    answers: list[dict[str, Any]] | None = None,
    ticket_types: list[str] | None = None,
) -> LumaGuest:
    """A pending guest as Luma sends it, with answers and tickets in Luma's wire shape."""
    return LumaGuest.model_validate(
        {
            "api_id": "gst-1",
            "user_email": email,
            "user_name": "Ada Lovelace",
            "approval_status": "pending_approval",
            "registration_answers": answers or [],
            "event_tickets": [
                {"api_id": f"tkt-{n}", "event_ticket_type_id": kind}
                for n, kind in enumerate(ticket_types or [])
            ],
        }
    )


ROLE = [{"label": "What do you do?", "question_type": "text", "answer": "  Senior Recruiter  "}]


# --- decide -------------------------------------------------------------------------------


def test_the_first_matching_rule_decides() -> None:
    rules = [
        Rule(action=Action.DECLINE, domains=["spam.io"]),
        Rule(action=Action.APPROVE, domains=["acme.com"]),
        Rule(action=Action.WAITLIST),  # everyone: never reached for an acme.com guest
    ]
    decision = decide(rules, guest(), NOBODY_KNOWN)
    assert decision == Decision(Action.APPROVE, "rule 2: approve email at acme.com", 2)
    # Order matters: the catch-all first decides for everybody.
    assert decide(list(reversed(rules)), guest(), NOBODY_KNOWN).rule == 1
    assert decide(list(reversed(rules)), guest(), NOBODY_KNOWN).action == Action.WAITLIST


def test_a_guest_no_rule_matches_is_held_for_review() -> None:
    rules = [Rule(action=Action.APPROVE, domains=["beta.io"])]
    decision = decide(rules, guest(), NOBODY_KNOWN)
    assert decision == Decision(Action.HOLD, NO_RULE_MATCHED, None)
    assert decide([], guest(), NOBODY_KNOWN) == Decision(Action.HOLD, NO_RULE_MATCHED, None)


def test_a_ban_list_compares_emails_by_identity() -> None:
    ban = Rule(action=Action.DECLINE, emails=["Jane.Doe+events@Gmail.com", "bot@spam.io"])
    rules = [ban, Rule(action=Action.APPROVE)]
    # Gmail: case, +tag and dots do not matter (googlemail.com is the same inbox).
    for same in ("janedoe@gmail.com", "JANE.DOE@googlemail.com", "j.a.n.e.d.o.e+x@gmail.com"):
        assert decide(rules, guest(same), NOBODY_KNOWN).action == Action.DECLINE, same
    # Elsewhere: case and +tag do not matter, dots do.
    assert decide(rules, guest("BOT+1@Spam.io"), NOBODY_KNOWN).action == Action.DECLINE
    assert decide(rules, guest("b.ot@spam.io"), NOBODY_KNOWN).action == Action.APPROVE
    assert decide(rules, guest("janedoe@acme.com"), NOBODY_KNOWN) == Decision(
        Action.APPROVE, "rule 2: approve everyone", 2
    )


def test_an_email_ban_list_of_no_valid_address_bans_nobody() -> None:
    ban = Rule(action=Action.DECLINE, emails=["not an email"])
    assert not ban.holds(guest(), NOBODY_KNOWN)


# --- conditions -----------------------------------------------------------------------------


def test_domains_are_normalized_and_any_one_matches() -> None:
    rule = Rule(action=Action.APPROVE, domains=[" @ACME.com ", "Beta.IO"])
    assert rule.domains == ["acme.com", "beta.io"]
    assert rule.holds(guest("ada@acme.com"), NOBODY_KNOWN)
    assert rule.holds(guest("ADA@BETA.io"), NOBODY_KNOWN)
    assert not rule.holds(guest("ada@sub.acme.com"), NOBODY_KNOWN)  # exact domain only
    assert not rule.holds(guest("ada@gamma.io"), NOBODY_KNOWN)


@pytest.mark.parametrize("bad", ["acme", "acme com", "ada@acme.com", ""])
def test_a_domain_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="is not an email domain"):
        Rule(action=Action.APPROVE, domains=[bad])


def test_tags_come_from_the_facts() -> None:
    rule = Rule(action=Action.APPROVE, tags=["#Speaker", "sponsor"])
    assert rule.tags == ["speaker", "sponsor"]
    assert rule.holds(guest(), GuestFacts(tags=frozenset({"speaker", "press"})))
    assert rule.holds(guest(), GuestFacts(tags=frozenset({"sponsor"})))
    assert not rule.holds(guest(), GuestFacts(tags=frozenset({"press"})))
    assert not rule.holds(guest(), NOBODY_KNOWN)


def test_vip_by_the_facts() -> None:
    rule = Rule(action=Action.APPROVE, vip=True)
    assert rule.holds(guest(), GuestFacts(is_vip=True))
    # A high score alone is not being a VIP by the org's rules.
    assert not rule.holds(guest(), GuestFacts(is_vip=False, vip_score=99))


def test_min_vip_score_holds_at_or_above() -> None:
    rule = Rule(action=Action.APPROVE, min_vip_score=60)
    assert rule.holds(guest(), GuestFacts(vip_score=60))
    assert rule.holds(guest(), GuestFacts(vip_score=61))
    assert not rule.holds(guest(), GuestFacts(vip_score=59))
    assert not rule.holds(guest(), GuestFacts(vip_score=59, is_vip=True))
    assert Rule(action=Action.APPROVE, min_vip_score=0).holds(guest(), NOBODY_KNOWN)
    with pytest.raises(ValidationError):
        Rule(action=Action.APPROVE, min_vip_score=-1)


def test_repeat_by_the_facts() -> None:
    rule = Rule(action=Action.APPROVE, repeat=True)
    assert rule.holds(guest(), GuestFacts(repeat=True))
    assert not rule.holds(guest(), GuestFacts(repeat=False, is_vip=True))


def test_answer_contains_any_case() -> None:
    rule = Rule(action=Action.HOLD, answer=AnswerTest(question="WHAT DO YOU", value="RECRUIT"))
    assert rule.answer is not None and rule.answer.how == "contains"
    assert rule.holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert not rule.holds(guest(), NOBODY_KNOWN)  # no answer at all
    # The value must be in the answer to that question, not in any answer.
    other = Rule(action=Action.HOLD, answer=AnswerTest(question="diet", value="recruit"))
    assert not other.holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert not Rule(
        action=Action.HOLD, answer=AnswerTest(question="what do you", value="founder")
    ).holds(guest(answers=ROLE), NOBODY_KNOWN)


def test_answer_equals_trimmed_any_case() -> None:
    def equals(value: str) -> Rule:
        return Rule(
            action=Action.HOLD, answer=AnswerTest(question="do you do", value=value, how="equals")
        )

    assert equals("senior recruiter").holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert equals("  SENIOR RECRUITER ").holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert not equals("recruiter").holds(guest(answers=ROLE), NOBODY_KNOWN)  # not a part


def test_answer_matches_a_pattern_any_case() -> None:
    def matches(pattern: str) -> Rule:
        return Rule(
            action=Action.HOLD,
            answer=AnswerTest(question="what do", value=pattern, how="matches"),
        )

    assert matches(r"^senior\s+RECRUIT").holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert matches(r"recruit(er|ing)$").holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert not matches(r"^recruiter").holds(guest(answers=ROLE), NOBODY_KNOWN)
    assert not matches(r"founder|ceo").holds(guest(answers=ROLE), NOBODY_KNOWN)


def test_answers_of_other_shapes_are_read_as_text() -> None:
    answers: list[dict[str, Any]] = [
        {"label": "Company", "question_type": "company", "answer_company": "Analytical Engines"},
        {"label": "Attending in person?", "question_type": "agree-check", "answer": True},
    ]
    company = AnswerTest(question="company", value="analytical engines", how="equals")
    agreed = AnswerTest(question="in person", value="yes", how="equals")
    assert Rule(action=Action.APPROVE, answer=company).holds(guest(answers=answers), NOBODY_KNOWN)
    assert Rule(action=Action.APPROVE, answer=agreed).holds(guest(answers=answers), NOBODY_KNOWN)


def test_an_invalid_pattern_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not a pattern I can use"):
        AnswerTest(question="role", value="(unclosed", how="matches")
    with pytest.raises(ValidationError, match="is not a pattern I can use"):
        Rule.model_validate(
            {"action": "hold", "answer": {"question": "role", "value": "[a-", "how": "matches"}}
        )
    # The same text is a fine needle for contains and equals.
    assert AnswerTest(question="role", value="(unclosed", how="contains").value == "(unclosed"
    with pytest.raises(ValidationError):
        AnswerTest(question="", value="x")


def test_ticket_types_match_any_of_the_guests_tickets() -> None:
    rule = Rule(action=Action.APPROVE, ticket_types=["tt-speaker", "tt-sponsor"])
    assert rule.holds(guest(ticket_types=["tt-general", "tt-sponsor"]), NOBODY_KNOWN)
    assert not rule.holds(guest(ticket_types=["tt-general"]), NOBODY_KNOWN)
    assert not rule.holds(guest(), NOBODY_KNOWN)  # no tickets


def test_max_seats_left_holds_at_or_below_and_never_without_capacity() -> None:
    rule = Rule(action=Action.WAITLIST, max_seats_left=5)
    assert rule.holds(guest(), GuestFacts(seats_left=5))
    assert rule.holds(guest(), GuestFacts(seats_left=0))
    assert not rule.holds(guest(), GuestFacts(seats_left=6))
    assert not rule.holds(guest(), GuestFacts(seats_left=None))
    full = Rule(action=Action.WAITLIST, max_seats_left=0)
    assert full.holds(guest(), GuestFacts(seats_left=0))
    assert not full.holds(guest(), GuestFacts(seats_left=1))
    assert not full.holds(guest(), NOBODY_KNOWN)


def test_a_rule_without_conditions_matches_everyone() -> None:
    rule = Rule(action=Action.APPROVE)
    assert rule.holds(guest("x@y.org"), NOBODY_KNOWN)
    assert rule.holds(guest("nobody"), GuestFacts(seats_left=0))
    assert rule.describe() == "approve everyone"


def test_every_condition_of_a_rule_must_hold() -> None:
    rule = Rule(
        action=Action.APPROVE,
        domains=["acme.com"],
        tags=["speaker"],
        min_vip_score=10,
        ticket_types=["tt-speaker"],
    )
    speaker = GuestFacts(tags=frozenset({"speaker"}), vip_score=10)
    assert rule.holds(guest(ticket_types=["tt-speaker"]), speaker)
    # Drop any one and the rule no longer holds.
    assert not rule.holds(guest("ada@beta.io", ticket_types=["tt-speaker"]), speaker)
    assert not rule.holds(guest(ticket_types=["tt-speaker"]), GuestFacts(vip_score=10))
    assert not rule.holds(
        guest(ticket_types=["tt-speaker"]), GuestFacts(tags=frozenset({"speaker"}), vip_score=9)
    )
    assert not rule.holds(guest(ticket_types=["tt-general"]), speaker)


def test_rules_are_strict_and_frozen() -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate({"action": "approve", "domain": ["acme.com"]})  # a typo
    with pytest.raises(ValidationError):
        Rule.model_validate({"action": "maybe"})
    rule = Rule(action=Action.APPROVE)
    with pytest.raises(ValidationError):
        rule.action = Action.DECLINE  # type: ignore[misc]


# --- describe -------------------------------------------------------------------------------


def test_describe_says_the_rule_in_words() -> None:
    assert (
        Rule(action=Action.APPROVE, domains=["acme.com", "beta.io"], tags=["speaker"]).describe()
        == "approve email at acme.com or beta.io and tagged speaker"
    )
    assert (
        Rule(
            action=Action.DECLINE, emails=["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]
        ).describe()
        == "decline email a@x.io, b@x.io, c@x.io and 2 more"
    )
    assert (
        Rule(
            action=Action.HOLD,
            answer=AnswerTest(question="What do you do", value="recruiter", how="equals"),
        ).describe()
        == "hold answer to “What do you do” is “recruiter”"
    )
    assert (
        Rule(
            action=Action.WAITLIST,
            vip=True,
            min_vip_score=60,
            repeat=True,
            ticket_types=["tt-1"],
            max_seats_left=0,
        ).describe()
        == "waitlist a VIP and VIP score at least 60 and a repeat guest and ticket tt-1"
        " and 0 or fewer seats left"
    )
