"""Inputs, results and queries of the bulk status job and its activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from catalog.guest_filter import GuestFilter
from core import defaults


@dataclass
class ResolveInput:
    job_id: str
    org_id: int
    event_id: str
    filter: GuestFilter
    cursor: str | None = None
    max_pages: int = defaults.BULK_PAGES_PER_RESOLVE


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
    # Stop starting writes after this many seconds and return (calls in flight finish), so
    # the workflow sees pause and cancel, and moves its progress, every few seconds. None: no
    # bound, as runs started before the bound existed asked.
    window_seconds: float | None = None


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
    # Tunables: the starter fills most from `Settings`; the defaults (`core.defaults`) also
    # decode histories written before a field existed.
    batch_size: int = defaults.BULK_BATCH_SIZE
    concurrency: int = defaults.BULK_CONCURRENCY
    pages_per_resolve: int = defaults.BULK_PAGES_PER_RESOLVE
    heartbeat_timeout_seconds: float = defaults.HEARTBEAT_TIMEOUT_SECONDS
    carried: BulkCounters = field(default_factory=BulkCounters)


@dataclass
class BulkProgress:
    # resolving | applying | paused | cancelling | finished; "waiting" is never the
    # workflow's own: a read while no worker answered, counts as last written.
    phase: str
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
