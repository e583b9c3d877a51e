"""Plain language: text → `Intent` (nlp) → the very feature code the commands run.

In a DM every text is for the bot; in a group only text that mentions it or replies to it.
Parsers never write: approve/decline intents reach the same preview and Confirm button as
the commands, after the same admin check. A message is read against the person's previous
turn in this chat (`bot.conversation`, `nlp.followup`): "and the waitlisted ones?" asks the
last question again with a new status, "approve them" previews the same bulk change as
naming the event and filter would, and a reference to an answer no longer remembered is
answered with a question, never a guess.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.types import Message

from bot import args
from bot.context import Ctx
from bot.conversation import recall
from bot.errors import UserError
from bot.filters import Addressed, Text
from bot.freshness import fresh_org
from bot.middlewares.errors import friendly
from bot.routers.automations import digest_now, sync_now
from bot.routers.billing import say_if_quota_spent
from bot.routers.event_choice import live_events, offer_events, with_event
from bot.routers.events import find_person, show_events
from bot.routers.policies import propose_policy_change
from bot.routers.profiles import people_request
from bot.routers.start import help_text
from bot.routers.status_changes import ask_bulk, ask_status_change
from bot.routers.trends import show_trends
from bot.texts import q
from catalog.events import EventFilter
from catalog.guests import person_history
from intel.policy_phrases import PolicyPhraseError, read_policy_request
from intel.trends import Dimension
from nlp import Intent, IntentName, KnownEvent, ParseContext
from nlp.followup import FollowUp
from nlp.translation import guess_language
from services.caller import Refusal
from store.models import Event

# Said when no parser understood (the offline one reads English only): the commands work in
# any language, so they are what to suggest.
NOT_UNDERSTOOD = (
    "Sorry, I did not understand that. Try a command: /events, /event &lt;name&gt;, "
    "/guests &lt;event&gt; [status], /approve or /decline &lt;email&gt; [event], "
    "/bulk approve|decline &lt;event&gt; &lt;filters&gt;. /help shows examples in plain English."
)
# The same, in the language a message was written in when no parser could read it (Gemini
# off, busy or out of quota): said without any outside service.
NOT_UNDERSTOOD_IN = {
    "es": "Lo siento, no lo he entendido: ahora mismo solo leo mensajes en inglés. Prueba un "
    "comando: /events, /event &lt;nombre&gt;, /guests &lt;evento&gt; [estado], /approve o "
    "/decline &lt;email&gt; [evento], /bulk approve|decline &lt;evento&gt; &lt;filtros&gt;. "
    "/help muestra ejemplos en inglés sencillo.",
    "pt": "Desculpe, não entendi: neste momento só leio mensagens em inglês. Experimente um "
    "comando: /events, /event &lt;nome&gt;, /guests &lt;evento&gt; [estado], /approve ou "
    "/decline &lt;email&gt; [evento], /bulk approve|decline &lt;evento&gt; &lt;filtros&gt;. "
    "/help mostra exemplos em inglês simples.",
    "de": "Entschuldigung, das habe ich nicht verstanden: im Moment lese ich nur englische "
    "Nachrichten. Versuchen Sie einen Befehl: /events, /event &lt;Name&gt;, /guests "
    "&lt;Veranstaltung&gt; [Status], /approve oder /decline &lt;E-Mail&gt; [Veranstaltung], "
    "/bulk approve|decline &lt;Veranstaltung&gt; &lt;Filter&gt;. /help zeigt Beispiele in "
    "einfachem Englisch.",
    "fr": "Désolé, je n'ai pas compris : pour le moment, je ne lis que les messages en "
    "anglais. Essayez une commande : /events, /event &lt;nom&gt;, /guests &lt;événement&gt; "
    "[statut], /approve ou /decline &lt;e-mail&gt; [événement], /bulk approve|decline "
    "&lt;événement&gt; &lt;filtres&gt;. /help montre des exemples en anglais simple.",
}
EVENT_ACTIONS = {
    IntentName.EVENT_SUMMARY: ("summary", "How is Founders Dinner going?"),
    IntentName.COUNT_GUESTS: ("count", "How many are pending for Founders Dinner?"),
    IntentName.LIST_GUESTS: ("guests", "Who is pending for Founders Dinner?"),
    IntentName.EXPORT: ("export", "Export the guests of Founders Dinner"),
}

PEOPLE_ACTIONS = {IntentName.REPEAT_GUESTS: "repeats", IntentName.VIP_GUESTS: "vips"}
# A write pointing back at an answer the chat no longer remembers (or never gave).
WHOM = (
    "{verb} whom? I have no earlier answer of yours to refer to (I remember one for "
    "{minutes} minutes). Name the event and who, e.g. "
    "<i>{verb_lower} everyone pending for Founders Dinner</i>."
)
# A read pointing back the same way.
WHICH = (
    "Which event and which guests? I have no earlier answer of yours to refer to (I remember "
    "one for {minutes} minutes). Ask in full, e.g. <i>how many are pending for Founders "
    "Dinner?</i>"
)


async def unknown_command(message: Message, ctx: Ctx) -> None:
    await ctx.say("I do not know that command; /help lists the ones I do.")


async def plain_language(message: Message, ctx: Ctx, text: str) -> None:
    try:  # a standing order ("auto-approve … from acme.com") is a policy change, not a write
        standing = read_policy_request(text)
    except PolicyPhraseError as exc:
        raise UserError(q(str(exc), 400)) from None
    if standing is not None:
        await propose_policy_change(ctx, standing)
        return
    await fresh_org(ctx)  # names the parser matches against are the current ones
    events = await live_events(ctx)
    parse_ctx = ParseContext.build(
        ctx.now(),
        ctx.timezone,
        [KnownEvent(e.name, e.city, e.start_at) for e in events],
        previous=await recall(ctx),
    )
    if ctx.deps.parser.calls_out:  # no database connection held through a Gemini call
        await ctx.session.commit()
    result = await ctx.deps.parser.parse(text, parse_ctx, org_id=ctx.linked_org.id)
    ctx.language = result.language  # what follows is said in the language they wrote in
    await say_if_quota_spent(ctx, result)
    if result.intent.intent is IntentName.UNKNOWN and result.language is None:
        await ctx.say(not_understood(text))
        return
    followup = result.followup or FollowUp(result.intent)
    try:
        if followup.missing_context:
            raise UserError(_ask_for_context(ctx, result.intent))
        await act(ctx, result.intent, event_id=followup.event_id)
    except (UserError, Refusal) as refusal:
        if ctx.language is None:
            raise  # the errors middleware says it (and rolls the update back)
        translated, _ = await ctx.in_language(friendly(refusal), None)
        raise UserError(translated) from None  # a refusal is an answer: in their language


def not_understood(text: str) -> str:
    """ "Not understood" and the commands, in the message's language if we can tell it."""
    language = guess_language(text)
    return NOT_UNDERSTOOD if language is None else NOT_UNDERSTOOD_IN[language]


def _ask_for_context(ctx: Ctx, intent: Intent) -> str:
    minutes = f"{ctx.deps.settings.context_minutes:g}"
    if intent.is_write and intent.target_status is not None:
        verb = "Approve" if intent.target_status.value == "approved" else "Decline"
        return WHOM.format(verb=verb, verb_lower=verb.lower(), minutes=minutes)
    return WHICH.format(minutes=minutes)


async def act(ctx: Ctx, intent: Intent, *, event_id: str | None = None) -> None:
    """Run what the intent asks for, through the commands' own code. `event_id` is the event
    a follow-up inherited: resolved by its id (exact), not by its name again."""
    status = intent.status.value if intent.status else None
    name = intent.intent
    words = intent.event or ""
    if event_id and any(e.luma_event_id == event_id for e in await live_events(ctx)):
        words = event_id  # still there: exactly that event, even if others share its name
    if name in EVENT_ACTIONS:
        action, usage = EVENT_ACTIONS[name]
        filters = {"status": status, "domain": intent.domain}
        if not words and intent.city:  # "what about lisbon?": the city's events
            await _in_city(ctx, intent.city, action, filters)
            return
        await with_event(ctx, words, action, filters, usage=usage)
    elif name is IntentName.LIST_EVENTS:
        query = EventFilter(
            city=intent.city,
            date_from=intent.date_from,
            date_to=intent.date_to,
            timezone=ctx.timezone,
        )
        if not (query.city or query.date_from or query.date_to):
            query.when = "upcoming"
        await show_events(ctx, query)
    elif name is IntentName.FIND_GUEST:
        await find_person(ctx, intent.email or intent.guest or "")
    elif name is IntentName.SET_STATUS and intent.target_status is not None:
        await ctx.access.require_guest_writer()
        email = intent.email or await _email_of(ctx, intent.guest or "")
        await ask_status_change(ctx, email, words, intent.target_status.value)
    elif name is IntentName.BULK_STATUS and intent.target_status is not None:
        bulk_filters = args.Filters(
            words=words,
            statuses=[status] if status else [],
            domains=[intent.domain] if intent.domain else [],
            tags=[intent.tag] if intent.tag else [],
        )
        await ask_bulk(ctx, intent.target_status.value, bulk_filters)
    elif name in PEOPLE_ACTIONS:
        # "repeat guests for Lisbon": a city alone names its event(s), fuzzily, like words do.
        await people_request(ctx, intent.event or intent.city or "", status, PEOPLE_ACTIONS[name])
    elif name is IntentName.TRENDS:
        await show_trends(ctx, Dimension(intent.group_by or Dimension.MONTH))
    elif name is IntentName.SYNC:
        await sync_now(ctx)
    elif name is IntentName.DIGEST:
        await digest_now(ctx)
    elif name is IntentName.HELP:
        await ctx.say(help_text())
    else:
        await ctx.say(NOT_UNDERSTOOD)


async def _in_city(ctx: Ctx, city: str, action: str, filters: dict[str, Any]) -> None:
    """Run a read on the one event in `city`, or ask which of its events."""
    here: list[Event] = [
        event
        for event in await live_events(ctx)
        if event.city and event.city.casefold() == city.casefold()
    ]
    if not here:
        raise UserError(f"I know no event in {q(city, 60)}. /events lists the ones I know.")
    if len(here) == 1:
        await with_event(ctx, here[0].luma_event_id, action, filters, usage="")
        return
    await offer_events(ctx, here, action, filters, f"Which event in {q(city, 60)}?")


async def _email_of(ctx: Ctx, guest_name: str) -> str:
    """The one email of a guest named without one; ask for the email otherwise."""
    if not guest_name:
        raise UserError(
            "Whom? Give their email, e.g. <i>approve ada@example.com for Founders Dinner</i>."
        )
    rows = await person_history(ctx.session, org_id=ctx.linked_org.id, who=guest_name)
    emails = {guest.email for guest, _ in rows}
    if len(emails) == 1:
        return emails.pop()
    if not emails:
        raise UserError(f"I found no guest called “{q(guest_name, 60)}”; give their email instead.")
    raise UserError(
        f"Several guests match “{q(guest_name, 60)}”; give the email of the one you mean."
    )


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="natural")
    router.message.register(unknown_command, Text(command=True), Addressed())
    router.message.register(
        plain_language, Text(command=False), Addressed(), flags={"linked": True}
    )
    return router
