"""The words people use for guest statuses, read the same way by the bot and the API.

`/bulk approve Dinner pending` and `{"statuses": ["pending"]}` mean Luma's
`pending_approval`; Luma's own names are words too, so either spelling works everywhere.
"""

from __future__ import annotations

STATUS_WORDS = {
    "approved": "approved",
    "accepted": "approved",
    "pending": "pending_approval",
    "pending_approval": "pending_approval",
    "waitlist": "waitlist",
    "waitlisted": "waitlist",
    "declined": "declined",
    "rejected": "declined",
    "invited": "invited",
    "session": "session",
}


def status_word(word: str) -> str | None:
    """Luma's status for a word (any case), or None when it names no status."""
    return STATUS_WORDS.get(word.strip().lower())
