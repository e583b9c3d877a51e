"""An event's plain-language rubric, applied by a reader (Gemini) to guests no rule decides.

Pure: what a guest's case shows the reader, how its verdict becomes a decision, and the
contract a reader fulfils. The reader itself (`nlp.rubric`) does the I/O.

The reader may only advise. A verdict becomes an approval when it is sure enough
(`MIN_CONFIDENCE`) and a seat is left; a decline only when the org has explicitly let the
rubric decline; everything else, and every guest the reader could not judge (no key, quota
spent, no answer, an answer in a bad shape, answers that address the reader), is held for a
person with the reason in plain words.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from intel.approval_policy import Action, Decision, GuestFacts
from luma import LumaGuest

MIN_CONFIDENCE = 0.7
MAX_ANSWER_CHARS = 600  # per registration answer shown to the reader
MAX_ANSWERS = 12

Verdict = Literal["approve", "hold", "decline"]


@dataclass(frozen=True)
class RubricCase:
    """What the reader sees of one guest: no email address (its domain only), no Luma id."""

    key: str  # "g1", "g2", ...: the reader answers by this key
    name: str
    email_domain: str
    answers: list[tuple[str, str]]  # (question, answer)
    tickets: list[str] = field(default_factory=list)
    company: str | None = None
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    events_attended: int = 0
    is_vip: bool = False

    def as_prompt(self) -> dict[str, object]:
        """The case as the JSON the reader gets (blank facts left out)."""
        shown: dict[str, object] = {
            "guest": self.key,
            "name": self.name,
            "email_domain": self.email_domain,
            "answers": [{"question": q, "answer": a} for q, a in self.answers],
        }
        extra = {
            "tickets": self.tickets,
            "company": self.company,
            "title": self.title,
            "our_tags": self.tags,
            "events_attended_before": self.events_attended,
            "vip": self.is_vip,
        }
        return shown | {name: value for name, value in extra.items() if value}


def case_of(key: str, guest: LumaGuest, facts: GuestFacts) -> RubricCase:
    answers = [
        (answer.label[:200], text[:MAX_ANSWER_CHARS])
        for answer in guest.registration_answers[:MAX_ANSWERS]
        if (text := answer.full_text)
    ]
    return RubricCase(
        key=key,
        name=(guest.name or "").strip()[:120],
        email_domain=guest.email.rpartition("@")[2].lower(),
        answers=answers,
        tickets=sorted({ticket.name for ticket in guest.tickets if ticket.name}),
        company=facts.company,
        title=facts.title,
        tags=sorted(facts.tags),
        events_attended=facts.events_attended,
        is_vip=facts.is_vip,
    )


class RubricVerdict(BaseModel):
    """One guest's verdict as the reader must give it; anything else holds the guest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    guest: str = Field(min_length=1, max_length=20)
    verdict: Verdict
    reason: str = Field(min_length=1, max_length=300)
    confidence: float = Field(ge=0.0, le=1.0)


@dataclass(frozen=True)
class RubricAnswer:
    """The reader's verdicts by case key, and for each case without one, why not (in words
    for the organizer)."""

    verdicts: dict[str, RubricVerdict] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


class RubricReader(Protocol):
    async def judge(
        self, *, org_id: int, rubric: str, cases: Sequence[RubricCase], may_decline: bool
    ) -> RubricAnswer:
        """Verdicts for `cases` by `rubric`; never raises for a failure of the reader."""
        ...


# What a guest writes (name, answers, company, title) that speaks to the screener: such a
# guest is held for a person and not sent. Wide on purpose: a false alarm costs one manual
# review, a miss could approve a whole group of guests.
_ADDRESSES_READER = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}"
    r"\b(instructions?|rules?|rubric|prompt|above|previous|everything|criteria)\b"
    r"|\b(system prompt|new (rubric|rules?|instructions?|criteria))\b"
    r"|\b(note|message|instructions?|attention)\b.{0,10}\b(screener|reviewer|model|ai|assistant|llm|gpt|gemini)\b"
    r"|\byou are (an?|the|my) (helpful |friendly )?(ai|model|assistant|screener|reviewer|bot)\b"
    r"|\b(verdict|confidence|decision)\s*[:=]"
    r"|\bapprove (me|this (guest|person|one|application|registration)|every(one|body)|all)\b"
    r"|\bg\d+\b"
    r"|\b(mark|set|rate|give)\b.{0,30}\b(approved?|confidence)\b",
    re.IGNORECASE | re.DOTALL,
)


NOT_CONFIGURED = "Gemini is not set up (no API key)"
INJECTION_HOLD = "the guest's own words address the screener, so they were not sent to it"


def addresses_the_reader(case: RubricCase) -> bool:
    """Whether a guest's own words try to instruct the reader (prompt injection)."""
    written = [case.name, case.company or "", case.title or ""]
    written += [f"{question}\n{answer}" for question, answer in case.answers]
    return any(_ADDRESSES_READER.search(text) for text in written)


def case_keys(count: int) -> list[str]:
    """Keys the reader answers by, random per call ("g3f9a1c"), so that no guest can name
    another guest's key in their answers."""
    keys: set[str] = set()
    while len(keys) < count:
        keys.add(f"g{secrets.token_hex(3)}")
    return list(keys)


def rubric_decision(
    verdict: RubricVerdict | None,
    *,
    may_decline: bool,
    seats_left: int | None,
    why_none: str | None,
) -> Decision:
    """The decision a verdict (or its absence) stands for; the reason names the rubric."""
    if verdict is None:
        return Decision(Action.HOLD, f"rubric not applied: {why_none or 'no verdict'}", None)
    sure = f"{round(verdict.confidence * 100)}% sure"
    said = f"rubric ({sure}): {verdict.reason}"
    if verdict.verdict == "hold":
        return Decision(Action.HOLD, said, None)
    if verdict.confidence < MIN_CONFIDENCE:
        return Decision(Action.HOLD, f"rubric unsure, would {verdict.verdict} ({said})", None)
    if verdict.verdict == "decline":
        if not may_decline:
            return Decision(
                Action.HOLD, f"rubric would decline; it may not decline on its own ({said})", None
            )
        return Decision(Action.DECLINE, said, None)
    if seats_left is not None and seats_left <= 0:
        return Decision(Action.HOLD, f"rubric would approve but no seats are left ({said})", None)
    return Decision(Action.APPROVE, said, None)
