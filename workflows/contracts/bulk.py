"""Inputs, results and queries of the bulk status job and its activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from catalog.guest_filter import GuestFilter


@dataclass
class ResolveInput:
    job_id: str
    org_id: int
    event_id: str
    filter: GuestFilter
    cursor: str | None = None
    max_pages: int = 10


@dataclass
class ResolveResult:
    total: int
    next_cursor: str | None
    has_more: bool


@dataclass
class ApplyInput:
    job_id: str
    org_id: int
    event_id: str
    target_status: str
    should_refund: bool | None
    after_seq: int
    limit: int
    concurrency: int
    requested_by: int | None = None
    chat_id: int | None = None


@dataclass
class GuestFailure:
    email: str
    reason: str


@dataclass
class ApplyResult:
    last_seq: int
    done: int
    skipped: int
    failed: int


@dataclass
class JobTotals:
    total: int
    done: int
    skipped: int
    failed: int
    pending: int
    failures: list[GuestFailure]


@dataclass
class JobRef:
    job_id: str


@dataclass
class BulkCounters:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    last_seq: int = 0
    cursor: str | None = None
    resolved: bool = False
    paused: bool = False
    started_at: datetime | None = None


@dataclass
class BulkStatusInput:
    org_id: int
    event_id: str
    target_status: str
    filter: GuestFilter
    should_refund: bool | None = None
    requested_by: int | None = None
    chat_id: int | None = None
    event_name: str = ""
    batch_size: int = 100
    concurrency: int = 8
    pages_per_resolve: int = 10
    heartbeat_timeout_seconds: float = 30.0
    carried: BulkCounters = field(default_factory=BulkCounters)


@dataclass
class BulkProgress:
    phase: str  # resolving | applying | paused | cancelling | finished
    total: int
    done: int
    skipped: int
    failed: int
    eta_seconds: float | None


@dataclass
class ControlRequest:
    """Input of pause / resume / cancel; who asked is kept for the audit trail."""

    requested_by: int | None = None


@dataclass
class BulkReport:
    event_id: str
    target_status: str
    total: int
    done: int
    skipped: int
    failed: int
    cancelled: bool
    failures: list[GuestFailure]
    text: str
