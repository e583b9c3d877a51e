"""The daily digest: what changed in the org's guest lists since the chat's last digest."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.metrics import digest_sent
from store.models import AutomationSettings, Event, Guest, utcnow
from workflows.contracts.digest import Digest, DigestRequest, DigestSent

WEEK = timedelta(days=7)


class DigestActivities:
    """Reads the cache (kept fresh by the sync schedule) and remembers what was sent."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn
    async def build_digest(self, request: DigestRequest) -> Digest:
        now = utcnow()
        async with self.sessions() as session:
            settings = await session.get(AutomationSettings, request.chat_id)
            since = (settings.digest_last_sent_at if settings else None) or now - timedelta(days=1)
            new_by_event = dict(
                (
                    await session.execute(
                        select(Event.name, func.count(Guest.id))
                        .join(
                            Event,
                            (Event.org_id == Guest.org_id)
                            & (Event.luma_event_id == Guest.luma_event_id),
                        )
                        .where(
                            Guest.org_id == request.org_id,
                            Guest.registered_at > since,
                            Guest.gone_at.is_(None),
                        )
                        .group_by(Event.name)
                        .order_by(Event.name)
                    )
                ).all()
            )
            upcoming = (
                await session.execute(
                    select(Event.luma_event_id, Event.name, Event.start_at)
                    .where(
                        Event.org_id == request.org_id,
                        Event.start_at >= now,
                        Event.gone_at.is_(None),
                    )
                    .order_by(Event.start_at)
                )
            ).all()
            counts = await _status_counts(session, request.org_id, [e[0] for e in upcoming])
        figures = {
            "new": new_by_event,
            "upcoming": [
                [name, start.isoformat() if start else None, counts.get(event_id, {})]
                for event_id, name, start in upcoming
            ],
        }
        # New registrations count as change by themselves; the fingerprint covers the state
        # of upcoming events, so a digest that would repeat the last one is not sent.
        fingerprint = hashlib.sha256(
            json.dumps(figures["upcoming"], sort_keys=True).encode()
        ).hexdigest()
        last = settings.digest_last_fingerprint if settings else None
        text = _digest_text(figures, now)
        return Digest(text, fingerprint, changed=bool(new_by_event) or fingerprint != last)

    @activity.defn
    async def mark_digest_sent(self, sent: DigestSent) -> None:
        async with self.sessions.begin() as session:
            settings = await session.get(AutomationSettings, sent.chat_id)
            if settings is not None:
                settings.digest_last_sent_at = utcnow()
                settings.digest_last_fingerprint = sent.fingerprint
        digest_sent()  # core.metrics


async def _status_counts(
    session: AsyncSession, org_id: int, event_ids: list[str]
) -> dict[str, dict[str, int]]:
    rows = await session.execute(
        select(Guest.luma_event_id, Guest.approval_status, func.count())
        .where(
            Guest.org_id == org_id,
            Guest.luma_event_id.in_(event_ids),
            Guest.gone_at.is_(None),
        )
        .group_by(Guest.luma_event_id, Guest.approval_status)
    )
    counts: dict[str, dict[str, int]] = {}
    for event_id, status, count in rows:
        counts.setdefault(event_id, {})[status] = count
    return counts


def _digest_text(figures: dict[str, Any], now: datetime) -> str:
    lines = ["☀️ <b>Daily digest</b>"]
    new = figures["new"]
    if new:
        lines.append(f"New registrations: {sum(new.values())}")
        lines += [f"• {escape(name)}: +{count}" for name, count in new.items()]
    else:
        lines.append("No new registrations since the last digest.")
    pending = [(name, c.get("pending_approval", 0)) for name, _, c in figures["upcoming"]]
    pending = [(name, n) for name, n in pending if n]
    if pending:
        lines.append("Waiting for your approval:")
        lines += [f"• {escape(name)}: {n} pending" for name, n in pending]
    week = [
        (name, start, c)
        for name, start, c in figures["upcoming"]
        if start and start < (now + WEEK).isoformat()
    ]
    if week:
        lines.append("Next 7 days:")
        for name, start, c in week:
            approved = c.get("approved", 0) + c.get("session", 0)
            decided = approved + c.get("declined", 0)
            rate = f", approval rate {round(100 * approved / decided)}%" if decided else ""
            lines.append(f"• {start[:10]} {escape(name)}: {approved} approved{rate}")
    return "\n".join(lines)
