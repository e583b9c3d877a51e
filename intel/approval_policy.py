"""Approval policies: ordered rules that decide a pending registration (pure: no I/O).

A rule is a set of conditions and an action. The first rule whose conditions all hold decides;
a guest no rule matches is held for a person to review, so a policy never approves or
declines anyone by omission. A ban list is a rule like any other (decline, these emails).

The conditions on who the guest is (email domain or address, our tags, VIP, repeat guest, an
answer containing a value) are the product's one guest filter (`catalog.guest_filter`),
evaluated exactly as the guest lists and bulk jobs evaluate it; a rule adds what only a
policy asks: an answer equal to or matching a pattern, a VIP score of at least N, a ticket
type, and how many seats are left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from catalog.guest_filter import GuestFilter, People, needle, person_key
from luma import LumaGuest


class Action(StrEnum):
    APPROVE = "approve"
    WAITLIST = "waitlist"
    DECLINE = "decline"
    HOLD = "hold"  # for a person to review: nothing is written


# The approval status each writing action sets in Luma.
LUMA_STATUS: dict[Action, str] = {
    Action.APPROVE: "approved",
    Action.WAITLIST: "waitlist",
    Action.DECLINE: "declined",
}

AnswerHow = Literal["contains", "equals", "matches"]
ANY_QUESTION = "*"  # an answer test's question: any question (a company answer's job title too)
MAX_RULES = 50
MAX_LISTED = 500  # domains, emails, tags or ticket types in one rule


class AnswerTest(BaseModel):
    """A registration answer: to a question whose label contains `question` (any case; "*":
    any question), an answer that contains, equals (any case, trimmed) or matches (a regular
    expression, any case) `value`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=500)
    how: AnswerHow = "contains"

    @model_validator(mode="after")
    def _pattern_compiles(self) -> AnswerTest:
        if self.how == "matches":
            try:
                re.compile(self.value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"“{self.value}” is not a pattern I can use: {exc}") from None
        return self

    def holds(self, guest: LumaGuest) -> bool:
        label = needle(self.question)
        anywhere = self.question == ANY_QUESTION
        for answer in guest.registration_answers:
            if not anywhere and label not in answer.label.lower():
                continue
            text = answer.full_text if anywhere else answer.text
            if self.how == "contains" and needle(self.value) in text.lower():
                return True
            if self.how == "equals" and needle(self.value) == needle(text):
                return True
            if self.how == "matches" and re.search(self.value, text, re.IGNORECASE):
                return True
        return False


class Rule(BaseModel):
    """Conditions (every one given must hold; none given: every guest) and an action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    domains: list[str] = Field(default_factory=list, max_length=MAX_LISTED)
    emails: list[str] = Field(default_factory=list, max_length=MAX_LISTED)
    tags: list[str] = Field(default_factory=list, max_length=MAX_LISTED)
    vip: StrictBool = False  # a VIP by the org's VIP rules
    min_vip_score: StrictInt | None = Field(default=None, ge=0, le=100_000)
    repeat: StrictBool = False  # registered for enough of the org's events before
    answer: AnswerTest | None = None
    ticket_types: list[str] = Field(default_factory=list, max_length=MAX_LISTED)
    # Holds while at most this many seats are left (needs the event's capacity).
    max_seats_left: StrictInt | None = Field(default=None, ge=0, le=1_000_000)

    @field_validator("domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = [domain.strip().lower().lstrip("@") for domain in domains]
        for domain in cleaned:
            if "." not in domain or " " in domain or "@" in domain:
                raise ValueError(f"“{domain}” is not an email domain (like acme.com)")
        return cleaned

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return [tag.strip().lower().lstrip("#") for tag in tags]

    @property
    def guest_filter(self) -> GuestFilter:
        """The conditions the product's guest filter expresses, as that filter."""
        contains = self.answer if self.answer and self._filter_answers else None
        return GuestFilter(
            domains=self.domains,
            emails=self.emails,
            tags=self.tags,
            vip=self.vip,
            repeat=self.repeat,
            answer_label=contains.question if contains else None,
            answer_value=contains.value if contains else None,
        )

    @property
    def _filter_answers(self) -> bool:
        """Whether the guest filter tests the answer (it knows "contains" on one question)."""
        answer = self.answer
        return answer is not None and answer.how == "contains" and answer.question != ANY_QUESTION

    def holds(self, guest: LumaGuest, facts: GuestFacts) -> bool:
        key = person_key(guest.email)
        people = People(
            tagged=frozenset({key}) if facts.tags & set(self.tags) else frozenset(),
            vips=frozenset({key}) if facts.is_vip else frozenset(),
            repeats=frozenset({key}) if facts.repeat else frozenset(),
        )
        if not self.guest_filter.matches(guest, people):
            return False
        answer = self.answer  # one question "contains" is the guest filter's; others: here
        if answer is not None and not self._filter_answers and not answer.holds(guest):
            return False
        if self.min_vip_score is not None and facts.vip_score < self.min_vip_score:
            return False
        if self.ticket_types and not any(
            ticket.ticket_type_id in self.ticket_types for ticket in guest.tickets
        ):
            return False
        # Unknown capacity: no seat count to compare, so the condition does not hold.
        return self.max_seats_left is None or (
            facts.seats_left is not None and facts.seats_left <= self.max_seats_left
        )

    def describe(self) -> str:
        """The rule in plain words, as the bot and the portal show it."""
        parts: list[str] = []
        if self.domains:
            parts.append("email at " + " or ".join(self.domains))
        if self.emails:
            shown = ", ".join(self.emails[:3])
            more = f" and {len(self.emails) - 3} more" if len(self.emails) > 3 else ""
            parts.append(f"email {shown}{more}")
        if self.tags:
            parts.append("tagged " + " or ".join(self.tags))
        if self.vip:
            parts.append("a VIP")
        if self.min_vip_score is not None:
            parts.append(f"VIP score at least {self.min_vip_score}")
        if self.repeat:
            parts.append("a repeat guest")
        if self.answer is not None:
            verb = {"contains": "contains", "equals": "is", "matches": "matches"}[self.answer.how]
            if self.answer.question == ANY_QUESTION:
                verb = {"contains": "mentions", "equals": "is", "matches": "matches"}[
                    self.answer.how
                ]
                parts.append(f"an answer {verb} “{self.answer.value}”")
            else:
                parts.append(f"answer to “{self.answer.question}” {verb} “{self.answer.value}”")
        if self.ticket_types:
            parts.append("ticket " + " or ".join(self.ticket_types))
        if self.max_seats_left is not None:
            parts.append(f"{self.max_seats_left} or fewer seats left")
        return f"{self.action.value} " + (" and ".join(parts) if parts else "everyone")


@dataclass(frozen=True)
class GuestFacts:
    """What a policy knows beyond the guest row: the person (intel.people) and the event."""

    tags: frozenset[str] = frozenset()
    vip_score: int = 0
    is_vip: bool = False
    repeat: bool = False
    seats_left: int | None = None  # None: the event has no capacity (or it is unknown)
    # What a rubric's reader is shown besides the registration (rules do not look at these).
    company: str | None = None
    title: str | None = None
    events_attended: int = 0


@dataclass(frozen=True)
class Decision:
    """What the policy does with one guest and why, in a line a person can read."""

    action: Action
    reason: str
    rule: int | None  # 1-based number of the rule that decided; None: no rule matched


NO_RULE_MATCHED = "no rule matched: held for review"


def decide(rules: list[Rule], guest: LumaGuest, facts: GuestFacts) -> Decision:
    """The first matching rule's action, or hold for review."""
    for number, rule in enumerate(rules, start=1):
        if rule.holds(guest, facts):
            return Decision(rule.action, f"rule {number}: {rule.describe()}", number)
    return Decision(Action.HOLD, NO_RULE_MATCHED, None)
