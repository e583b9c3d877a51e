"""Plan limits, checked where the cost arises, refusing new work with a friendly message.

Every check runs before the work starts and never touches work already running: upgrading
only lifts limits, and downgrading keeps every row and running job, applying the smaller
limits to what is started next. A refusal names the limit, what was asked, and the plan
(and command) that allows more.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.plans import Plan
from billing.service import Billing
from store.models import Chat, Membership, Organization, Role
from store.usage import add_usage, consume_within

GEMINI = "gemini"  # the kind nlp's quota has always counted
GEMINI_NOTICE = "gemini_notice"  # bookkeeping: the "out of questions" note was given
BULK_GUESTS = "bulk_guests"
HIDDEN_KINDS = frozenset({GEMINI_NOTICE})


class LimitExceeded(Exception):
    """New work the org's plan does not allow; `str()` is the sentence to show (HTML-safe)."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


def _more(field: str, better: Plan, current: Plan) -> bool:
    """Whether `better` is more generous than `current` on `field`."""
    have, get = getattr(current, field), getattr(better, field)
    if field == "enrichment":
        return bool(get) and not have
    if field == "min_sync_interval_minutes":  # smaller is better
        return have is not None and (get is None or get < have)
    return have is not None and (get is None or get > have)


def upgrade_hint(billing: Billing, plan: Plan, field: str) -> str:
    """How to get more of `field`: the cheapest plan that allows more, and how to buy it."""
    if not billing.enabled:
        return (
            f"This install gives every calendar the {plan.name} plan; its operator can change "
            "DEFAULT_PLAN or the plans file."
        )
    for better in billing.catalog.upgrades_from(plan):
        if _more(field, better, plan):
            return f"The {better.name} plan allows more: an admin can upgrade with /upgrade."
    return "No plan allows more than this."


def _refuse(billing: Billing, plan: Plan, field: str, what: str) -> LimitExceeded:
    return LimitExceeded(f"{what} {upgrade_hint(billing, plan, field)}", limit=field)


def check_bulk(billing: Billing, plan: Plan, guests: int) -> None:
    """A bulk job may change at most the plan's number of guests."""
    limit = plan.max_bulk_guests
    if limit is not None and guests > limit:
        raise _refuse(
            billing,
            plan,
            "max_bulk_guests",
            f"Your {plan.name} plan allows bulk jobs of up to {limit:,} guests; this one would "
            f"change {guests:,}. Narrow it (by status, @domain or emails) or run it in parts.",
        )


def check_sync_interval(billing: Billing, plan: Plan, minutes: int) -> None:
    """Scheduled syncs may not run more often than the plan's minimum interval."""
    floor = plan.min_sync_interval_minutes
    if floor is not None and minutes < floor:
        raise _refuse(
            billing,
            plan,
            "min_sync_interval_minutes",
            f"Your {plan.name} plan syncs at most every {floor} minutes, so every {minutes} "
            "minutes is not possible.",
        )


def check_enrichment(billing: Billing, plan: Plan) -> None:
    """Enrichment calls a paid provider per person: only plans that include it may run it."""
    if not plan.enrichment:
        raise _refuse(
            billing, plan, "enrichment", f"Your {plan.name} plan does not include enrichment."
        )


def sync_interval_for(billing: Billing, org: Organization) -> int:
    """The interval the org's schedule should use: its own, raised to its plan's floor.
    (While Luma's webhook brings changes, most runs only check the webhook: SyncInput.)"""
    floor = billing.plan_of(org).min_sync_interval_minutes or 0
    return max(org.sync_interval_minutes, floor)


async def check_new_chat(
    session: AsyncSession, billing: Billing, *, org: Organization, chat_id: int
) -> None:
    """Linking one more chat to the org; relinking a chat it already has is always fine."""
    plan = billing.plan_of(org)
    limit = plan.linked_chats
    if limit is None:
        return
    chat = await session.get(Chat, chat_id)
    if chat is not None and chat.org_id == org.id:
        return
    count = await session.scalar(select(func.count()).where(Chat.org_id == org.id)) or 0
    if count >= limit:
        raise _refuse(
            billing,
            plan,
            "linked_chats",
            f"Your {plan.name} plan allows {limit} linked chat(s) per calendar, and "
            f"{count} already are. /unlink one first, or upgrade.",
        )


async def check_new_member(
    session: AsyncSession, billing: Billing, *, org: Organization, user_id: int
) -> None:
    """Adding one more person to the org's team; changing a member's role is always fine."""
    plan = billing.plan_of(org)
    limit = plan.team_members
    if limit is None:
        return
    members = await session.scalars(select(Membership.user_id).where(Membership.org_id == org.id))
    current = set(members)
    if user_id in current or len(current) < limit:
        return
    raise _refuse(
        billing,
        plan,
        "team_members",
        f"Your {plan.name} plan allows {limit} team member(s), and {len(current)} already are.",
    )


async def check_new_calendar(
    session: AsyncSession, billing: Billing, *, user_id: int, calendar_id: str
) -> None:
    """Linking one more calendar: a person may administer as many as their best plan allows."""
    owned = list(
        await session.scalars(
            select(Organization)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.user_id == user_id, Membership.role == Role.ADMIN)
        )
    )
    if not owned or any(org.luma_calendar_id == calendar_id for org in owned):
        return
    plans = [billing.plan_of(org) for org in owned]
    if any(plan.calendars is None for plan in plans):
        return
    best = max(plans, key=lambda plan: plan.calendars or 0)
    limit = best.calendars or 0
    if len(owned) >= limit:
        raise _refuse(
            billing,
            best,
            "calendars",
            f"Your {best.name} plan allows {limit} linked calendar(s) per person, and you "
            f"administer {len(owned)}.",
        )


async def record_bulk(session: AsyncSession, *, org_id: int, day: date, guests: int) -> None:
    """Count the guests a started bulk job will change, for the day's usage."""
    if guests > 0:
        await add_usage(session, org_id=org_id, day=day, kind=BULK_GUESTS, amount=guests)


class PlanQuota:
    """`nlp.quota.CallQuota` by plan: each org's Gemini questions a day, shared by processes.

    When it says no, the parser answers offline; `first_refusal` lets the bot say so once.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], billing: Billing) -> None:
        self.sessions = sessions
        self.billing = billing

    async def try_consume(self, org_id: int, *, day: date) -> bool:
        async with self.sessions() as session:
            plan = await self.billing.plan_for(session, org_id=org_id)
        return await consume_within(
            self.sessions,
            org_id=org_id,
            day=day,
            kind=GEMINI,
            limit=self.billing.gemini_limit(plan),
        )

    async def first_refusal(self, org_id: int, *, day: date) -> str | None:
        """The note to show the first time today the org ran out of questions, else None."""
        async with self.sessions.begin() as session:
            times = await add_usage(session, org_id=org_id, day=day, kind=GEMINI_NOTICE)
            if times > 1:
                return None
            plan = await self.billing.plan_for(session, org_id=org_id)
        limit = self.billing.gemini_limit(plan)
        return (
            f"Your {plan.name} plan's {limit} smart-language questions for today are used up, "
            "so I am answering with my simpler offline reader until tomorrow. "
            + upgrade_hint(self.billing, plan, "gemini_questions_per_day")
        )
