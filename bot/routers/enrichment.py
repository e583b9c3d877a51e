"""/enrich on <provider> <key> | off | run, and /enrich for the status.

The rules (admins only, a plan with enrichment, a known provider, the audit rows, the
schedule and the run) are `services.enrichment`'s; this router reads the command and
answers. What stays here is Telegram's part of keeping the provider key secret, as for a
Luma key: in a group the message holding it is deleted before anything else happens (even
when the sender may not set it), and only its last four characters are ever shown. Runs are
Temporal workflows: the bot starts one (or joins the one going) and answers at once; the
workflow posts its report when done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.routers.link import _delete_key_message
from bot.texts import ago, q
from core.logs import secrets as log_secrets
from services import enrichment
from services.caller import Conflict, Refusal
from services.enrichment import TurnedOn
from store.models import utcnow

USAGE = (
    "Use <code>/enrich on pdl|apollo &lt;provider API key&gt;</code>, <code>/enrich off</code>, "
    "<code>/enrich run</code>, or <code>/enrich</code> for the status."
)
PROVIDER_NAMES = {"pdl": "People Data Labs", "apollo": "Apollo"}
JOINED = "The scheduled enrichment run is going now; /enrich shows how far it got."


async def enrich_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").split()
    action = words[0].lower() if words else "status"
    if action == "on" and len(words) > 2:
        log_secrets.add(words[-1])
        warning = await _delete_key_message(message) if ctx.in_group else ""
        with _still_warning(warning):
            _ = ctx.linked_org  # refuses an unlinked chat, after the key is out of sight
            if len(words) != 3:
                raise UserError(USAGE)
            await _turn_on_with_key(ctx, words[1], words[2], warning)
    elif action in ("on", "off", "run") and len(words) == 1:
        await {"on": _turn_on, "off": _turn_off, "run": _run}[action](ctx)
    elif action == "status" and len(words) <= 1:
        await _status(ctx)
    else:
        raise UserError(USAGE)


@contextmanager
def _still_warning(warning: str) -> Iterator[None]:
    """A refusal after the key message could not be deleted still asks to delete it."""
    try:
        yield
    except Refusal as exc:
        if not warning:
            raise
        raise UserError(f"{exc.message} {warning}") from None
    except UserError as exc:
        if not warning:
            raise
        raise UserError(f"{exc} {warning}") from None


async def _turn_on_with_key(ctx: Ctx, provider: str, key: str, warning: str) -> None:
    deps = ctx.deps
    turned = await enrichment.turn_on_with_key(
        await caller_of(ctx),
        ctx.session,
        billing=deps.billing,
        automations=deps.automations,
        keybox=deps.keybox,
        provider=provider,
        key=key,
    )
    row = turned.settings
    name = PROVIDER_NAMES[row.provider]
    await _say_on(ctx, f"Enrichment on with {name} (key {q(row.key_fingerprint)}).", turned)
    if warning:
        await ctx.say(warning)


async def _turn_on(ctx: Ctx) -> None:
    try:
        turned = await enrichment.turn_on(
            await caller_of(ctx),
            ctx.session,
            billing=ctx.deps.billing,
            automations=ctx.deps.automations,
        )
    except Conflict as exc:  # no provider yet: say how to set one
        raise UserError(f"{exc.message} {USAGE}") from None
    name = PROVIDER_NAMES[turned.settings.provider]
    await _say_on(ctx, f"Enrichment on again with {name}.", turned)


async def _say_on(ctx: Ctx, first_sentence: str, turned: TurnedOn) -> None:
    """The reply does not wait for the run to do any work. A run of its own reports here;
    the schedule's run, joined, reports where the schedule's runs report."""
    if turned.run.scheduled:
        await ctx.say(f"{first_sentence} {JOINED}")
        return
    await ctx.say(
        f"{first_sentence} Looking your guests up in the background; I will post here when "
        "done. /enrich shows the status."
    )


async def _turn_off(ctx: Ctx) -> None:
    row = await enrichment.turn_off(
        await caller_of(ctx), ctx.session, automations=ctx.deps.automations
    )
    if row is None:
        await ctx.say("Enrichment is already off.")
        return
    await ctx.say("Enrichment off. What was found stays on the profiles; the key stays stored.")


async def _run(ctx: Ctx) -> None:
    """`services.enrichment.run_enrichment` checks the role, the plan and the switch, and
    joins a run already going (the schedule's too)."""
    run = await enrichment.run_enrichment(
        await caller_of(ctx),
        ctx.session,
        automations=ctx.deps.automations,
        billing=ctx.deps.billing,
    )
    if run.scheduled:
        await ctx.say(JOINED)
        return
    await ctx.say("Enriching in the background; I will post here when done.")


async def _status(ctx: Ctx) -> None:
    found = await enrichment.status(await caller_of(ctx), ctx.session)
    row, stats = found.settings, found.stats
    if row is None or stats is None:
        await ctx.say("Enrichment is off (no provider set). " + USAGE)
        return
    state = "on" if row.enabled else "off"
    await ctx.say(
        f"Enrichment is {state}: {PROVIDER_NAMES[row.provider]}, key {q(row.key_fingerprint)}, "
        f"last run {ago(row.last_run_at, utcnow())}.\n"
        f"Cached answers: {stats.cached} ({stats.found} found); "
        f"profiles enriched: {stats.profiles_enriched}."
    )


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="enrichment")
    # Not flagged `linked`: the handler first deletes a message holding a key, then refuses.
    router.message.register(enrich_command, Command("enrich"))
    return router
