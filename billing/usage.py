"""Today's usage against the org's plan, in one shape for /status, the API and the web portal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.limits import BULK_GUESTS, GEMINI, HIDDEN_KINDS
from billing.service import Billing
from store.models import BillingSubscription, Chat, Membership, Organization
from store.usage import usage


@dataclass(frozen=True)
class UsageSnapshot:
    """One org's plan, its limits, and what it used on `day` (UTC)."""

    org_id: int
    plan: str
    plan_name: str
    billing_enabled: bool
    status: str
    day: date
    limits: dict[str, Any]
    used: dict[str, int]
    linked_chats: int
    team_members: int
    current_period_end: str | None = None
    upgrades: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the API (`GET /v1/usage`) and the web portal."""
        return {
            "org_id": self.org_id,
            "plan": self.plan,
            "plan_name": self.plan_name,
            "billing_enabled": self.billing_enabled,
            "subscription_status": self.status,
            "current_period_end": self.current_period_end,
            "day": self.day.isoformat(),
            "limits": self.limits,
            "used": self.used,
            "linked_chats": self.linked_chats,
            "team_members": self.team_members,
            "upgrades": self.upgrades,
        }

    def lines(self) -> list[str]:
        """Plain sentences (HTML-escaped) for the bot's /status and the portal snippet."""

        def of(used: int, limit: int | None) -> str:
            return f"{used:,}/{limit:,}" if limit is not None else f"{used:,} (no limit)"

        limits = self.limits
        lines = [
            f"Plan: <b>{escape(self.plan_name)}</b>"
            + ("" if self.billing_enabled else " (billing off on this install)")
            + ".",
            f"Today: {of(self.used.get(GEMINI, 0), limits['gemini_questions_per_day'])} "
            f"smart-language questions, {self.used.get(BULK_GUESTS, 0):,} guests in bulk jobs "
            + (
                f"(up to {limits['max_bulk_guests']:,} per job)."
                if limits["max_bulk_guests"] is not None
                else "(no per-job limit)."
            ),
            f"Linked chats {of(self.linked_chats, limits['linked_chats'])}, team members "
            f"{of(self.team_members, limits['team_members'])}.",
        ]
        if self.billing_enabled and self.upgrades:
            lines.append(f"More with /upgrade: {escape(', '.join(self.upgrades))}.")
        return lines

    def html(self) -> str:
        """A self-contained snippet the web portal can drop into a page."""
        items = "".join(f"<li>{line}</li>" for line in self.lines())
        return f'<section class="usage"><h2>Plan and usage</h2><ul>{items}</ul></section>'


async def usage_snapshot(
    session: AsyncSession, billing: Billing, *, org: Organization, day: date
) -> UsageSnapshot:
    plan = billing.plan_of(org)
    used = {
        kind: count
        for kind, count in (await usage(session, org_id=org.id, day=day)).items()
        if kind not in HIDDEN_KINDS
    }
    chats = await session.scalar(select(func.count()).where(Chat.org_id == org.id)) or 0
    members = await session.scalar(select(func.count()).where(Membership.org_id == org.id)) or 0
    subscription = await session.get(BillingSubscription, org.id)
    period_end = subscription.current_period_end if subscription else None
    return UsageSnapshot(
        org_id=org.id,
        plan=plan.key,
        plan_name=plan.name,
        billing_enabled=billing.enabled,
        status=subscription.status if subscription else "none",
        day=day,
        limits=plan.limits(),
        used=used,
        linked_chats=chats,
        team_members=members,
        current_period_end=period_end.isoformat() if period_end else None,
        upgrades=[better.name for better in billing.catalog.upgrades_from(plan)],
    )
