"""Input and result of one guest's status change."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GuestStatusChange:
    org_id: int
    event_id: str
    email: str
    target_status: str
    should_refund: bool | None = None
    requested_by: int | None = None
    chat_id: int | None = None
    source: str = "bot"
    idempotency_key: str = ""


@dataclass
class GuestStatusResult:
    email: str
    name: str
    before: str
    after: str
    changed: bool
