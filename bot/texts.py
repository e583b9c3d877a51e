"""Rendering for Telegram: escaped user text, guest and event lines, progress bars, pages.

Every message is HTML, so every piece of user- or Luma-supplied text goes through `q`, which
also clips it: a line's length is bounded by construction, and `pack` keeps a whole message
under Telegram's 4,096 characters (counted, as Telegram counts them, in UTF-16 units of the
text after the HTML is parsed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

from aiogram import html

from catalog.events import EventCounts
from catalog.status_words import STATUS_DISPLAY, status_display
from store.models import Event, Guest

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")
VERBS = {"approved": "Approve", "declined": "Decline"}
PAST_VERBS = {"approved": "Approved", "declined": "Declined"}
ING_VERBS = {"approved": "Approving", "declined": "Declining"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, ending in an ellipsis when something was cut."""
    if utf16_len(text) <= limit:
        return text
    kept, used = [], 0
    for char in text:
        size = utf16_len(char)
        if used + size > limit - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + "…"


def q(text: object, limit: int = 200) -> str:
    """User or Luma text, clipped and HTML-escaped: the only way such text enters a message."""
    return html.quote(clip(" ".join(str(text).split()), limit))


def plain(markup: str) -> str:
    """The text Telegram shows for our HTML: tags dropped, entities decoded."""
    return unescape(_TAG.sub("", markup))


def visible_len(markup: str) -> int:
    """The length Telegram counts for an HTML message."""
    return utf16_len(plain(markup))


def pack(header: str, lines: Sequence[str], footer: str = "", limit: int = TELEGRAM_LIMIT) -> str:
    """Header, as many lines as fit, footer; says so when lines had to be left out."""
    budget = limit - visible_len(header) - visible_len(footer) - 40
    kept: list[str] = []
    for line in lines:
        size = visible_len(line) + 1
        if size > budget:
            kept.append(f"… and {len(lines) - len(kept)} more.")
            break
        kept.append(line)
        budget -= size
    return "\n".join(part for part in (header, *kept, footer) if part)


def status_label(status: str) -> str:
    """The word for a status, the same as the portal's (`catalog.status_words`)."""
    return status_display(status)


def when(moment: datetime | None, timezone: str | None, *, with_time: bool = True) -> str:
    """`Tue 3 Mar 2026, 18:00` in the event's (or chat's) time zone."""
    if moment is None:
        return "date to be announced"
    try:
        shown = moment.astimezone(ZoneInfo(timezone or "UTC"))
    except (ValueError, KeyError):  # a zone name Luma sent that this machine lacks
        shown = moment
    day = f"{shown:%a} {shown.day} {shown:%b %Y}"
    return f"{day}, {shown:%H:%M}" if with_time else day


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{(seconds + 59) // 60} min"
    return f"{seconds // 3600} h {(seconds % 3600) // 60} min"


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def progress_bar(done: int, total: int, width: int = 16) -> str:
    share = done / total if total else 0.0
    filled = round(width * min(share, 1.0))
    return f"{'▓' * filled}{'░' * (width - filled)} {round(100 * min(share, 1.0))}%"


def guest_marks(guest: Guest, *, with_status: bool = True) -> str:
    """Status, check-in and paid marks of one registration."""
    marks = [status_label(guest.approval_status)] if with_status else []
    if guest.checked_in_at is not None:
        marks.append("checked in")
    if guest.is_paid:
        marks.append("paid")
    return " · ".join(marks)


def guest_line(guest: Guest, *, with_status: bool = True) -> str:
    """One guest, the same everywhere: name, email and marks."""
    name = q(guest.name, 48) if guest.name else "<i>no name</i>"
    marks = guest_marks(guest, with_status=with_status)
    return f"• {name} — {q(guest.email, 64)}" + (f" · {marks}" if marks else "")


def registration_line(guest: Guest, event: Event | None, timezone: str) -> str:
    """One of a person's registrations: the event, its date, and the marks."""
    if event is None:
        where = "an event no longer in the calendar"
    else:
        day = when(event.start_at, event.timezone or timezone, with_time=False)
        where = f"{event_title(event)} ({day})"
    return f"• {where}: {guest_marks(guest)}"


def guests_phrase(total: int, status: str | None, domain: str | None) -> str:
    """`12 pending guests from @acme.com`."""
    words = [str(total)]
    if status:
        words.append(status_label(status))
    words.append("guest" if total == 1 else "guests")
    if domain:
        words.append(f"from @{q(domain, 60)}")
    return " ".join(words)


def with_note(text: str, note: str) -> str:
    """An answer followed by a note about its freshness, when there is one."""
    return f"{text}\n{note}" if note else text


def event_title(event: Event) -> str:
    return f"<b>{q(event.name, 100)}</b>"


def when_where(event: Event, timezone: str) -> str:
    """The event's start in its own time zone (the chat's when unknown), and its city."""
    place = f" · {q(event.city, 40)}" if event.city else ""
    return f"{when(event.start_at, event.timezone or timezone)}{place}"


def chosen_by_rule(event: Event, rule: str, others: int, timezone: str) -> str:
    """Which of several same-named events a read answers from, and by what rule."""
    place = f", {q(event.city, 40)}" if event.city else ""
    day = when(event.start_at, event.timezone or timezone, with_time=False)
    other = "1 other" if others == 1 else f"{others} others"
    return f"{event_title(event)}{place}, {day} — {rule}; {other} with this name."


def event_line(event: Event, timezone: str) -> str:
    return f"• {event_title(event)} — {when_where(event, timezone)}"


def event_summary(counts: EventCounts, timezone: str) -> str:
    """Counts by status, capacity and check-ins of one event."""
    event = counts.event
    by_status = counts.by_status
    lines = [event_title(event), when_where(event, timezone)]
    breakdown = ", ".join(
        f"{status_label(status)} {by_status[status]}"
        for status in STATUS_DISPLAY
        if by_status.get(status) and status != "invited"
    )
    lines.append(
        f"Registered: <b>{counts.registered}</b>" + (f" ({breakdown})" if breakdown else "")
    )
    if by_status.get("invited"):
        lines.append(f"Invited, not registered: {by_status['invited']}")
    if event.capacity:
        lines.append(
            f"Capacity: {event.capacity} ({percent(counts.approved, event.capacity)} taken)"
        )
    lines.append(
        f"Checked in: {counts.checked_in} of {counts.approved} approved"
        f" ({percent(counts.checked_in, counts.approved)})"
    )
    if event.url:
        lines.append(f'<a href="{html.quote(event.url)}">Open in Luma</a>')
    return "\n".join(lines)
