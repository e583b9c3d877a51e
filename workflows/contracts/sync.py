"""Inputs and results of the sync workflows and their activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core import defaults


@dataclass
class OrgRef:
    org_id: int
    interactive: bool = False  # a person waits for it: Luma calls use the interactive budget
    safety_net: bool = False  # SyncInput.safety_net


@dataclass
class EventToSync:
    event_id: str
    name: str
    end_at: datetime | None
    needs_summary: bool


@dataclass
class EventsSynced:
    total: int
    to_sync: list[EventToSync]
    # The shortest post-event summary delay the org's chats chose (None: none chose).
    summary_delay_minutes: int | None = None
    # Only the webhook was checked: it is active and the last full pass is recent enough.
    checked_only: bool = False


@dataclass
class EventGuestsRef:
    org_id: int
    event_id: str
    interactive: bool = False


@dataclass
class GuestsSynced:
    event_id: str
    upserted: int
    gone: int


@dataclass
class GuestRef:
    org_id: int
    event_id: str
    guest_id: str | None = None
    email: str | None = None


@dataclass
class MissedRegistrationsRef:
    """Events whose guests a sync just cached: registrations their policies never saw."""

    org_id: int
    event_ids: list[str]


@dataclass
class SyncInput:
    org_id: int
    # The starter fills these from `Settings`; the defaults decode histories that predate them.
    summary_delay_minutes: int = defaults.SUMMARY_DELAY_MINUTES
    heartbeat_timeout_seconds: float = defaults.HEARTBEAT_TIMEOUT_SECONDS
    event_ids: list[str] = field(default_factory=list)  # only these events' guests
    interactive: bool = False  # a person waits for it (see luma.ratelimit.BudgetPolicy)
    # A run of the org's schedule: while Luma's webhook delivers changes, it checks the webhook
    # and makes a full pass only every WEBHOOK_SYNC_INTERVAL_MINUTES (a safety net).
    safety_net: bool = False


@dataclass
class SyncReport:
    events: int
    events_synced: int
    guests: int
    gone: int
    summaries_started: int
    profiles: int = 0
    # Registrations the sync found that no webhook had handed to the event's policy.
    registrations_delivered: int = 0


@dataclass
class RefreshGuestInput:
    org_id: int
    event_id: str
    guest_id: str | None = None
    email: str | None = None
