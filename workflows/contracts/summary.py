"""Inputs and results of the post-event summary workflow and its activities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import defaults


@dataclass
class EventRef:
    org_id: int
    event_id: str


@dataclass
class EventTiming:
    exists: bool
    name: str = ""
    end_at: datetime | None = None


@dataclass
class SummaryResult:
    text: str
    chart: dict[str, int]
    name: str


@dataclass
class Recipients:
    chat_ids: list[int]


@dataclass
class SummaryInput:
    org_id: int
    event_id: str
    delay_minutes: int = defaults.SUMMARY_DELAY_MINUTES


@dataclass
class SummaryOutcome:
    posted_to: list[int]
    text: str
