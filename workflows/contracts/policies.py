"""Inputs and results of the approval policy workflow (`workflows.policies`).

Guest ids only: names and emails stay in the database and Luma, never in workflow history.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PolicyRunInput:
    org_id: int
    event_id: str
    carried: list[str] = field(default_factory=list)  # registrations not decided yet
    batches_run: int = 0
    seats_changed: bool = False  # a seat may have freed and the waitlist was not looked at


@dataclass
class DecideInput:
    org_id: int
    event_id: str
    guest_ids: list[str]


@dataclass
class DecideResult:
    to_write: list[int]  # decision ids to write (auto mode), earlier unfinished ones too
    suggested: int = 0
    held: int = 0
    skipped: int = 0  # not pending any more (a person decided), or decided before


@dataclass
class WriteInput:
    org_id: int
    event_id: str
    decision_ids: list[int]


@dataclass
class ReportInput:
    org_id: int
    event_id: str
    report_key: str  # the same for a retried report: it finds the same decisions


@dataclass
class BatchReport:
    """The digest of one batch: its text (without names), and the chats to post it to."""

    text: str
    chat_ids: list[int]
    held: int = 0  # held for review and still to be acted on: the message offers buttons
    event_name: str = ""


@dataclass
class PromoteInput:
    org_id: int
    event_id: str


@dataclass
class PromoteResult:
    """How many came off the waitlist, the message saying so (no names), and its chats."""

    promoted: int
    text: str = ""
    chat_ids: list[int] = field(default_factory=list)
