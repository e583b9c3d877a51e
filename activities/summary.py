"""Post-event summaries: timing of the event, the figures, and who should receive them."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from sqlalchemy import func, select
from temporalio import activity

from activities.luma_access import LumaAccess
from activities.sync import event_row
from intel.trends import History, new_and_repeat, org_history
from luma import NotFoundError
from luma.emails import FREE_MAIL_DOMAINS
from luma.models import APPROVED_STATUSES, REGISTERED_STATUSES
from store import cache
from store.models import AutomationSettings, Chat, EventSummary, Guest, utcnow
from workflows.contracts.summary import EventRef, EventTiming, Recipients, SummaryResult

FREE_MAIL = FREE_MAIL_DOMAINS


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "n/a"


def summary_figures(guests: list[Guest], repeat_emails: set[str]) -> dict[str, Any]:
    statuses = Counter(guest.approval_status for guest in guests)
    approved = [g for g in guests if g.approval_status in APPROVED_STATUSES]
    checked_in = sum(1 for g in guests if g.checked_in_at is not None)
    companies = Counter(
        g.company or g.email_domain
        for g in approved
        if g.company or g.email_domain not in FREE_MAIL
    )
    return {
        "registered": sum(statuses[s] for s in REGISTERED_STATUSES),
        "approved": len(approved),
        "declined": statuses["declined"],
        "waitlisted": statuses["waitlist"],
        "pending": statuses["pending_approval"],
        "invited": statuses["invited"],
        "checked_in": checked_in,
        "attendance_rate": checked_in / len(approved) if approved else None,
        "no_shows": sum(1 for g in approved if g.checked_in_at is None),
        "top_companies": companies.most_common(5),
        "top_domains": Counter(g.email_domain for g in approved).most_common(5),
        "repeat_guests": sum(1 for g in guests if g.normalized_email in repeat_emails),
    }


def summary_text(name: str, figures: dict[str, Any], history: History | None = None) -> str:
    lines = [
        f"📊 <b>{escape(name)}</b> is over. Here is how it went:",
        f"Registered {figures['registered']} · approved {figures['approved']} · "
        f"declined {figures['declined']} · waitlisted {figures['waitlisted']}",
        f"Checked in {figures['checked_in']} of {figures['approved']} approved "
        f"({_pct(figures['checked_in'], figures['approved'])}); "
        f"no-shows {figures['no_shows']}.",
        f"Repeat guests: {figures['repeat_guests']}.",
    ]
    if figures["invited"]:
        lines.append(f"Invited but never registered: {figures['invited']}.")
    if figures["top_companies"]:
        top = ", ".join(f"{escape(str(n))} ({c})" for n, c in figures["top_companies"])
        lines.append(f"Top companies: {top}.")
    if figures["top_domains"]:
        top = ", ".join(f"{escape(str(n))} ({c})" for n, c in figures["top_domains"][:3])
        lines.append(f"Top email domains: {top}.")
    return "\n".join(lines + history_lines(figures, history))


def _rate(value: float) -> str:
    return f"{round(100 * value)}%"


def history_lines(figures: dict[str, Any], history: History | None) -> list[str]:
    """New against returning guests, and this event's rates against the org's average."""
    lines = []
    if "new_guests" in figures:
        lines.append(
            f"New guests {figures['new_guests']} · returning {figures['returning_guests']} "
            "(registered for an earlier event)."
        )
    if history is None or not history.events:
        return lines
    over = f"over {history.events} earlier event{'s' if history.events != 1 else ''}"
    rate, approved = figures["attendance_rate"], figures["approved"]
    if rate is not None and history.attendance_rate is not None:
        lines.append(
            f"Attendance {_rate(rate)} vs your average {_rate(history.attendance_rate)} {over}."
        )
    if approved and history.no_show_rate is not None:
        lines.append(
            f"No-show rate {_rate(figures['no_shows'] / approved)} vs your average "
            f"{_rate(history.no_show_rate)}."
        )
    return lines


class SummaryActivities:
    """The I/O of the post-event summary workflow."""

    def __init__(self, luma: LumaAccess) -> None:
        self.luma = luma
        self.sessions = luma.sessions

    @activity.defn
    async def event_timing(self, ref: EventRef) -> EventTiming:
        """When the event ends, read fresh from Luma so a moved event is noticed."""
        client = await self.luma.client(ref.org_id)
        try:
            event = await client.get_event(ref.event_id)
        except NotFoundError:
            return EventTiming(exists=False)
        async with self.sessions.begin() as session:
            await cache.upsert_events(session, org_id=ref.org_id, events=[event_row(event)])
        return EventTiming(exists=True, name=event.name, end_at=event.end_at)

    @activity.defn
    async def compute_summary(self, ref: EventRef) -> SummaryResult:
        """Figures from the freshly synced cache, stored once per event."""
        async with self.sessions.begin() as session:
            event = await cache.get_event(session, org_id=ref.org_id, luma_event_id=ref.event_id)
            name = event.name if event else ref.event_id
            guests = list(
                await cache.list_guests(session, org_id=ref.org_id, luma_event_id=ref.event_id)
            )
            repeat_emails = set(
                await session.scalars(
                    select(Guest.normalized_email).where(
                        Guest.org_id == ref.org_id,
                        Guest.luma_event_id != ref.event_id,
                        Guest.gone_at.is_(None),
                        Guest.normalized_email.in_({g.normalized_email for g in guests}),
                    )
                )
            )
            figures = summary_figures(guests, repeat_emails)
            start_at = event.start_at if event else None
            history = await org_history(
                session, org_id=ref.org_id, now=utcnow(), before=start_at, exclude=ref.event_id
            )
            figures["new_guests"], figures["returning_guests"] = await new_and_repeat(
                session, org_id=ref.org_id, luma_event_id=ref.event_id, start_at=start_at
            )
            figures["history"] = {
                "events": history.events,
                "attendance_rate": history.attendance_rate,
                "no_show_rate": history.no_show_rate,
            }
            text = summary_text(name, figures, history)
            stored = await session.scalar(
                select(EventSummary).where(
                    EventSummary.org_id == ref.org_id, EventSummary.luma_event_id == ref.event_id
                )
            )
            if stored is None:
                stored = EventSummary(org_id=ref.org_id, luma_event_id=ref.event_id)
                session.add(stored)
            stored.figures, stored.text = figures, text
        chart = {
            "approved": figures["approved"],
            "checked in": figures["checked_in"],
            "pending": figures["pending"],
            "waitlist": figures["waitlisted"],
            "declined": figures["declined"],
        }
        return SummaryResult(text=text, chart=chart, name=name)

    @activity.defn
    async def summary_recipients(self, ref: EventRef) -> Recipients:
        """Chats linked to the org that did not turn post-event summaries off."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Chat.id, func.coalesce(AutomationSettings.post_event_summary, True))
                .outerjoin(AutomationSettings, AutomationSettings.chat_id == Chat.id)
                .where(Chat.org_id == ref.org_id)
                .order_by(Chat.id)
            )
            return Recipients([chat_id for chat_id, wanted in rows if wanted])
