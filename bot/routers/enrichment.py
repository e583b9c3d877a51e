"""/enrich on <provider> <key> | off | run, and /enrich for the status.

The provider key is a secret like a Luma key: in a group the message holding it is deleted
before anything else happens (even when the sender may not set it), it is stored encrypted,
and only its last four characters are ever shown. Runs are Temporal workflows: the bot starts
one and answers at once; the workflow posts its report to the chat when done.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.routers.billing import admit_enrichment
from bot.routers.link import _audit, _delete_key_message
from bot.texts import ago, q
from core.logs import secrets as log_secrets
from intel.enrichment import store as enrichment_store
from intel.enrichment.http import STYLES
from services import sync
from store.models import utcnow

USAGE = (
    "Use <code>/enrich on pdl|apollo &lt;provider API key&gt;</code>, <code>/enrich off</code>, "
    "<code>/enrich run</code>, or <code>/enrich</code> for the status."
)
PROVIDER_NAMES = {"pdl": "People Data Labs", "apollo": "Apollo"}


async def enrich_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").split()
    action = words[0].lower() if words else "status"
    if action == "on" and len(words) > 2:
        log_secrets.add(words[-1])
        warning = await _delete_key_message(message) if ctx.in_group else ""
        _ = ctx.linked_org  # refuses an unlinked chat, after the key is out of sight
        await ctx.access.require_admin()
        admit_enrichment(ctx)
        if len(words) != 3:
            raise UserError(USAGE)
        await _turn_on_with_key(ctx, words[1].lower(), words[2], warning)
    elif action in ("on", "off", "run") and len(words) == 1:
        _ = ctx.linked_org
        await ctx.access.require_admin()
        if action == "on":
            admit_enrichment(ctx)
        await {"on": _turn_on, "off": _turn_off, "run": _run}[action](ctx)
    elif action == "status" and len(words) <= 1:
        await _status(ctx)
    else:
        raise UserError(USAGE)


async def _turn_on_with_key(ctx: Ctx, provider: str, key: str, warning: str) -> None:
    if provider not in STYLES:
        known = ", ".join(STYLES)
        raise UserError(f"I do not know the provider “{q(provider, 30)}”; use one of: {known}.")
    org = ctx.linked_org
    row = await enrichment_store.save_provider(
        ctx.session,
        org_id=org.id,
        provider=provider,
        api_key=key,
        keybox=ctx.deps.keybox,
        user_id=ctx.user_id,
    )
    await _audit(
        ctx, ctx.linked_org.id, "enrich_on", {"provider": provider, "key": row.key_fingerprint}
    )
    await ctx.session.commit()
    await _start(
        ctx, f"Enrichment on with {PROVIDER_NAMES[provider]} (key {q(row.key_fingerprint)})."
    )
    if warning:
        await ctx.say(warning)


async def _turn_on(ctx: Ctx) -> None:
    row = await enrichment_store.set_enabled(
        ctx.session, org_id=ctx.linked_org.id, enabled=True, user_id=ctx.user_id
    )
    if row is None:
        raise UserError("No provider is set yet. " + USAGE)
    await _audit(
        ctx, ctx.linked_org.id, "enrich_on", {"provider": row.provider, "key": row.key_fingerprint}
    )
    await ctx.session.commit()
    await _start(ctx, f"Enrichment on again with {PROVIDER_NAMES[row.provider]}.")


async def _start(ctx: Ctx, first_sentence: str) -> None:
    """The schedule, then a run now; the reply does not wait for either to do any work."""
    org_id = ctx.linked_org.id
    await ctx.deps.automations.set_enrichment_schedule(org_id, True)
    await ctx.deps.automations.start_enrichment(
        org_id, chat_id=ctx.chat_id, requested_by=ctx.user_id
    )
    await ctx.say(
        f"{first_sentence} Looking your guests up in the background; I will post here when "
        "done. /enrich shows the status."
    )


async def _turn_off(ctx: Ctx) -> None:
    org_id = ctx.linked_org.id
    row = await enrichment_store.set_enabled(
        ctx.session, org_id=org_id, enabled=False, user_id=ctx.user_id
    )
    if row is None:
        await ctx.say("Enrichment is already off.")
        return
    await _audit(ctx, ctx.linked_org.id, "enrich_off", {"provider": row.provider})
    await ctx.session.commit()
    await ctx.deps.automations.set_enrichment_schedule(org_id, False)
    await ctx.say("Enrichment off. What was found stays on the profiles; the key stays stored.")


async def _run(ctx: Ctx) -> None:
    """`services.sync.run_enrichment` checks the role, the plan and the switch, and joins a
    run already going (the schedule's too)."""
    run = await sync.run_enrichment(
        ctx.session,
        await caller_of(ctx),
        automations=ctx.deps.automations,
        billing=ctx.deps.billing,
    )
    if run.scheduled:
        await ctx.say("The scheduled enrichment run is going now; /enrich shows how far it got.")
        return
    await ctx.say("Enriching in the background; I will post here when done.")


async def _status(ctx: Ctx) -> None:
    org_id = ctx.linked_org.id
    row = await enrichment_store.get_settings(ctx.session, org_id=org_id)
    if row is None:
        await ctx.say("Enrichment is off (no provider set). " + USAGE)
        return
    stats = await enrichment_store.cache_stats(ctx.session, org_id=org_id)
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
