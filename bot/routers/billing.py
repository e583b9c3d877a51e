"""`/upgrade` and `/billing`: Stripe Checkout and customer-portal links for the chat's calendar.

Admins only (a plan is bought for the whole calendar). With billing off (no STRIPE_API_KEY)
both say so and name the install's plan. The plan changes when Stripe's webhook arrives,
never here: a link that is never paid changes nothing.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from billing import BillingUnavailable, Plan, PlanQuota
from billing.usage import usage_snapshot
from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.texts import q
from nlp.gemini import FallbackReason
from nlp.parser import ParseResult
from nlp.quota import quota_day
from services import digest
from services.caller import Invalid
from store.models import utcnow


def _describe(plan: Plan) -> str:
    def most(value: int | None, unit: str) -> str:
        return f"{value:,} {unit}" if value is not None else f"unlimited {unit}"

    return (
        f"<b>{q(plan.name, 40)}</b>: {most(plan.calendars, 'calendars')}, bulk jobs of "
        f"{most(plan.max_bulk_guests, 'guests')}, "
        f"{most(plan.gemini_questions_per_day, 'questions a day')}, sync every "
        f"{plan.min_sync_interval_minutes or 1} min, "
        f"{'enrichment' if plan.enrichment else 'no enrichment'}, "
        f"{most(plan.linked_chats, 'chats')}, {most(plan.team_members, 'members')}"
    )


def _pay_button(url: str, label: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=label, url=url)
    return builder.as_markup()


def _billing_off(ctx: Ctx) -> str:
    plan = ctx.deps.billing.default_plan
    return f"Billing is off on this install: every calendar has the {q(plan.name, 40)} plan."


async def upgrade_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    billing = ctx.deps.billing
    if not billing.enabled:
        await ctx.say(_billing_off(ctx))
        return
    org = ctx.linked_org
    current = billing.plan_of(org)
    above = billing.catalog.upgrades_from(current)
    wanted = (command.args or "").strip()
    if not above:
        await ctx.say(f"This calendar already has the largest plan ({q(current.name, 40)}).")
        return
    if not wanted and len(above) > 1:
        lines = [f"• {_describe(plan)} — <code>/upgrade {q(plan.key, 32)}</code>" for plan in above]
        await ctx.say(
            f"This calendar has the {q(current.name, 40)} plan. Upgrade to:\n" + "\n".join(lines)
        )
        return
    plan = billing.catalog.get(wanted) if wanted else above[0]
    if plan is None or plan not in above:
        names = ", ".join(q(p.key, 32) for p in above)
        raise UserError(f"“{q(wanted, 32)}” is not a plan you can upgrade to; choose {names}.")
    try:
        url = await billing.checkout_url(ctx.session, org=org, plan=plan)
    except BillingUnavailable as exc:
        raise UserError(q(str(exc))) from None
    await ctx.say(
        f"Upgrade <b>{q(org.name, 100)}</b> to {_describe(plan)}.\n"
        f'Pay securely with Stripe: <a href="{q(url, 2000)}">checkout link</a>. '
        "The new plan applies as soon as the payment goes through; running jobs are not "
        "interrupted.",
        _pay_button(url, f"Upgrade to {plan.name}"),
    )


async def billing_command(message: Message, ctx: Ctx) -> None:
    billing = ctx.deps.billing
    org = ctx.linked_org
    snapshot = await usage_snapshot(ctx.session, billing, org=org, day=utcnow().date())
    summary = "\n".join(snapshot.lines())
    if not billing.enabled:
        await ctx.say(f"{_billing_off(ctx)}\n{summary}")
        return
    try:
        url = await billing.portal_url(ctx.session, org=org)
    except BillingUnavailable as exc:
        await ctx.say(f"{summary}\n{q(str(exc))}")
        return
    await ctx.say(
        f"{summary}\nManage the subscription (card, invoices, plan, cancel) in Stripe's "
        f'<a href="{q(url, 2000)}">customer portal</a>.',
        _pay_button(url, "Manage subscription"),
    )


async def say_if_quota_spent(ctx: Ctx, result: ParseResult) -> None:
    """Once a day per org: the answer came from the offline reader because the plan's
    Gemini questions are used up."""
    if result.fallback_reason is not FallbackReason.QUOTA:
        return
    quota = PlanQuota(ctx.deps.sessions, ctx.deps.billing)
    note = await quota.first_refusal(ctx.linked_org.id, day=quota_day())
    if note:
        await ctx.say(q(note))


SYNC_EVERY_USAGE = "Use <code>/sync every 60</code> (minutes between scheduled syncs)."


async def sync_every(ctx: Ctx, words: list[str]) -> None:
    """`/sync every <minutes>`: the schedule's interval, refused below the plan's floor."""
    word = words[0].lower().removesuffix("min").removesuffix("m") if len(words) == 1 else ""
    if not word.isdigit() or len(word) > 6:
        raise UserError(SYNC_EVERY_USAGE)
    try:
        minutes = await digest.set_sync_interval(
            await caller_of(ctx),
            ctx.session,
            ctx.deps.billing,
            ctx.deps.automations,
            minutes=int(word),
        )
    except Invalid as exc:
        raise UserError(f"{exc.message} {SYNC_EVERY_USAGE}") from None
    await ctx.say(f"Scheduled syncs with Luma now run every {minutes} minutes.")


async def usage_lines(ctx: Ctx) -> list[str]:
    """The plan and today's usage, for /status."""
    snapshot = await usage_snapshot(
        ctx.session, ctx.deps.billing, org=ctx.linked_org, day=utcnow().date()
    )
    return snapshot.lines()


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="billing")
    flags = {"linked": True, "admin": True}
    router.message.register(upgrade_command, Command("upgrade"), flags=flags)
    router.message.register(billing_command, Command("billing"), flags=flags)
    return router
