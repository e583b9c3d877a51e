"""The words people use for guest statuses, read the same way by the bot and the API, and the
words shown for them (the portal, the bot).

`/bulk approve Dinner pending` and `{"statuses": ["pending"]}` mean Luma's
`pending_approval`; Luma's own names are words too, so either spelling works everywhere.
Shown, a status is a word a person uses (`pending`, never `pending_approval`): `STATUS_DISPLAY`
is the one place that says which.
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


# Luma's status -> the word shown for it, in the order statuses are listed.
STATUS_DISPLAY = {
    "approved": "approved",
    "session": "joined session",
    "pending_approval": "pending",
    "waitlist": "waitlist",
    "invited": "invited",
    "declined": "declined",
}


def status_display(status: str | None) -> str:
    """The word shown for one of Luma's statuses; an unknown one loses its underscores."""
    if not status:
        return "—"
    return STATUS_DISPLAY.get(status, status.replace("_", " "))
