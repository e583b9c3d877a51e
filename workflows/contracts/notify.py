"""What a workflow asks to post in a chat."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ChatNotice:
    org_id: int
    chat_id: int
    text: str
    idempotency_key: str
    chart: dict[str, int] | None = None  # rendered here, so history holds no image
    chart_title: str = ""
    # The event whose held registrations the message offers to act on (review buttons).
    review_event_id: str | None = None
