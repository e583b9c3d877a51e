"""/trends [event|city|month|domain|company]: a short text and a chart, from the cache."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from activities.charts import grouped_bar_chart_png
from bot.context import Ctx
from bot.errors import UserError
from bot.freshness import fresh_org
from bot.texts import pack, percent, q, with_note
from intel.trends import CHRONOLOGICAL, Dimension, Tally, TrendReport, trends

USAGE = (
    "Use <code>/trends</code> (by month), or <code>/trends event</code>, "
    "<code>/trends city</code>, <code>/trends domain</code>, <code>/trends company</code>."
)
ALIASES = {
    **{d.value: d for d in Dimension},
    **{d.value + "s": d for d in Dimension},
    "cities": Dimension.CITY,
    "companies": Dimension.COMPANY,
    "email": Dimension.DOMAIN,
    "emails": Dimension.DOMAIN,
    "time": Dimension.MONTH,
}
TITLES = {
    Dimension.EVENT: "by event",
    Dimension.CITY: "by city",
    Dimension.MONTH: "by month",
    Dimension.DOMAIN: "by email domain",
    Dimension.COMPANY: "by company",
}


def parse_dimension(words: str) -> Dimension:
    """The dimension a user typed ("by city", "domains"); month when nothing is given."""
    cleaned = words.strip().lower().removeprefix("by ").strip().lstrip("@")
    if not cleaned:
        return Dimension.MONTH
    if cleaned not in ALIASES:
        raise UserError(f"I cannot group trends by “{q(cleaned, 40)}”. " + USAGE)
    return ALIASES[cleaned]


def _rates(tally: Tally) -> str:
    line = (
        f"{tally.registered} registered · {tally.approved} approved "
        f"({percent(tally.approved, tally.registered)})"
    )
    if tally.approved_past:
        line += (
            f" · {tally.attended} attended ({percent(tally.attended, tally.approved_past)})"
            f" · no-shows {percent(tally.no_shows, tally.approved_past)}"
        )
    else:  # nothing is over yet: no attendance to speak of, never "0 %"
        line += " · attendance —"
    return line


def trends_text(report: TrendReport) -> str:
    """The headline over all events, then one line per group."""
    total = report.total
    header = (
        f"📈 <b>Trends {TITLES[report.dimension]}</b> over {total.events} events\n{_rates(total)}"
    )
    lines = [f"• <b>{q(row.key, 60)}</b>: {_rates(row)}" for row in report.rows]
    order = "latest" if report.dimension in CHRONOLOGICAL else "top"
    footer = f"<i>Showing the {order} {len(report.rows)}; {report.more} more.</i>"
    return pack(header, lines, footer if report.more else "")


PERSONAL_DIMENSIONS = frozenset({Dimension.DOMAIN, Dimension.COMPANY})


def trends_chart(report: TrendReport) -> bytes:
    labels = [row.key[:30] for row in report.rows]
    series: dict[str, list[int | None]] = {
        "registered": [row.registered for row in report.rows],
        "approved": [row.approved for row in report.rows],
        # Absent, not 0, for a group none of whose events is over yet.
        "attended": [row.attended if row.approved_past else None for row in report.rows],
    }
    return grouped_bar_chart_png(f"Trends {TITLES[report.dimension]}", labels, series)


async def show_trends(ctx: Ctx, dimension: Dimension) -> None:
    """Reply with the text, then the chart (the same for the command and plain language)."""
    if dimension in PERSONAL_DIMENSIONS:  # a domain or an employer can name a person
        ctx.access.require_personal_data()
    note = await fresh_org(ctx)
    report = await trends(
        ctx.session,
        org_id=ctx.linked_org.id,
        dimension=dimension,
        now=ctx.now(),
        timezone=ctx.timezone,
    )
    if not report.total.registered:
        await ctx.say(with_note("No registrations cached yet, so no trends to show. /sync", note))
        return
    await ctx.say(with_note(trends_text(report), note))
    chart = BufferedInputFile(trends_chart(report), filename=f"trends-{dimension.value}.png")
    caption = f"Trends {TITLES[dimension]}"
    await ctx.deliver(lambda chat_id: ctx.bot.send_photo(chat_id, chart, caption=caption))


async def trends_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await show_trends(ctx, parse_dimension(command.args or ""))


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="trends")
    router.message.register(trends_command, Command("trends"), flags={"linked": True})
    return router
