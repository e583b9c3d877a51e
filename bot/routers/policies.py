"""`/policy`: an event's approval policy, its rules, its mode, and a dry run.

    /policy Founders Dinner                         the rules and the mode
    /policy add Founders Dinner: approve from acme.com
    /policy remove Founders Dinner 2
    /policy mode Founders Dinner suggest            off, suggest or auto
    /policy test Founders Dinner                    what it would do to the pending guests now

Reading, changing and dry-running are `services.policies`' (admins only for changes, one
audit row per change); the rule's words are `intel.policy_text`'s. This router reads the
command and answers.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from activities.review_buttons import PolicyReviewCb
from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.keyboards import Choice, PolicyChangeCb, policy_change_keyboard
from bot.middlewares.errors import friendly
from bot.pressed import take_pressed
from bot.routers.event_choice import event_action, with_event
from bot.routers.status_changes import preview_bulk
from bot.texts import event_title, q
from catalog.guest_filter import GuestFilter
from intel.approval_policy import Action, Rule
from intel.policy_phrases import PolicyRequest
from intel.policy_text import EXAMPLES, RuleTextError, parse_rule
from services import policies
from services.caller import Refusal
from store import cache, pending
from store.models import Event

USAGE = (
    "<code>/policy Founders Dinner</code> shows the rules;\n"
    "<code>/policy add Founders Dinner: approve from acme.com</code> adds one;\n"
    "<code>/policy remove Founders Dinner 2</code> removes rule 2;\n"
    "<code>/policy mode Founders Dinner suggest</code> (off, suggest or auto);\n"
    "<code>/policy test Founders Dinner</code> shows what it would do now;\n"
    "<code>/policy capacity Founders Dinner 120</code> (or off) sets its seats;\n"
    "<code>/policy waitlist Founders Dinner vip</code> (registered, vip or off) orders the "
    "waitlist for freed seats;\n"
    "<code>/policy rubric Founders Dinner: approve founders building AI products; hold "
    "students</code> (or <code>: off</code>) has Gemini judge the guests no rule decides;\n"
    "<code>/policy rubric-declines Founders Dinner on</code> (or off) lets the rubric decline."
)
MODE_MEANING = {
    "off": "off: new registrations are left to you",
    "suggest": "suggest: decisions are shown for review, nothing is written",
    "auto": "auto: approvals and waitlisting are written; holds wait for review",
}
WAITLIST_MEANING = {
    "registered": "the waitlist moves up first come, first served (auto mode)",
    "vip": "the waitlist moves up highest VIP score first (auto mode)",
    "off": "the waitlist stays as it is",
}
ACTION_MARK = {
    Action.APPROVE: "✅ approve",
    Action.WAITLIST: "⏳ waitlist",
    Action.DECLINE: "⛔ decline",
    Action.HOLD: "✋ hold for review",
}


def policy_text(event: Event | None, view: policies.PolicyView, *, gemini: bool = True) -> str:
    """The policy in words; `event` None: the calendar-wide one."""
    title = event_title(event) if event else "all events (calendar-wide)"
    lines = [f"Approval policy for {title}", MODE_MEANING[view.mode]]
    if view.capacity is not None:
        order = WAITLIST_MEANING[view.waitlist_order]
        lines.append(f"Capacity: {view.capacity} seats; when a seat frees, {order}.")
    if view.inherited:
        lines.append("<i>This event follows the calendar-wide policy.</i>")
    if view.rules:
        lines += [f"{n}. {q(rule.describe(), 300)}" for n, rule in enumerate(view.rules, 1)]
    elif not view.rubric:
        lines.append("No rules yet: everyone would be held for review. Add one with")
        name = q(event.name, 60) if event else "Founders Dinner"
        lines.append(f"<code>/policy add {name}: approve from acme.com</code>")
    if view.rubric:
        may = "approve, hold or decline" if view.rubric_may_decline else "approve or hold"
        lines.append(f"Anyone no rule matches goes to the rubric (Gemini may {may}):")
        lines.append(f"<i>{q(view.rubric, 700)}</i>")
        lines.append("A guest it is not sure about (under 70%) is held for review.")
        if not gemini:
            lines.append("⚠️ Gemini is not set up here, so the rubric holds everyone for review.")
    elif view.rules:
        lines.append("Anyone no rule matches is held for review.")
    return "\n".join(lines)


def dry_run_text(event: Event, run: policies.DryRun) -> str:
    title = event_title(event)
    if not run.pending:
        return f"{title} has no pending guests right now: nothing for the policy to decide."
    counts = " · ".join(
        f"{ACTION_MARK[action]} {run.counts[action]}" for action in Action if run.counts[action]
    )
    lines = [f"Policy test for {title}: {run.pending} pending guest(s)", counts]
    for action in Action:
        for guest, decision in run.examples.get(action, []):
            name = q(guest.name, 48) if guest.name else "<i>no name</i>"
            lines.append(f"{ACTION_MARK[action]}: {name} — {q(guest.email, 64)}")
            lines.append(f"   <i>{q(decision.reason, 200)}</i>")
        if (shown := len(run.examples.get(action, []))) < run.counts[action]:
            lines.append(f"   … and {run.counts[action] - shown} more")
    lines.append(f"Nothing was written (mode: {run.policy.mode}).")
    return "\n".join(lines)


# --- actions on one event (after its name is resolved) --------------------------------------


@event_action("policy_show")
async def show(ctx: Ctx, event: Event, _: dict[str, Any]) -> None:
    view = await policies.policy_for(
        ctx.session, org_id=ctx.linked_org.id, event_id=event.luma_event_id
    )
    await ctx.say(_described(ctx, event, view))


def _described(ctx: Ctx, event: Event, view: policies.PolicyView) -> str:
    return policy_text(event, view, gemini=ctx.deps.rubric is not None)


@event_action("policy_rubric", writes=True)
async def rubric(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    view = await policies.set_rubric(
        await caller_of(ctx),
        ctx.session,
        event_id=event.luma_event_id,
        rubric=args["rubric"],
    )
    said = "Rubric set." if view.rubric else "No rubric: guests no rule matches are held."
    await ctx.say(f"{said}\n\n" + _described(ctx, event, view))


@event_action("policy_rubric_declines", writes=True)
async def rubric_declines(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    view = await policies.let_rubric_decline(
        await caller_of(ctx), ctx.session, event_id=event.luma_event_id, allowed=args["allowed"]
    )
    said = "The rubric may now decline." if args["allowed"] else "The rubric no longer declines."
    await ctx.say(f"{said}\n\n" + _described(ctx, event, view))


@event_action("policy_add", writes=True)
async def add(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    rule = Rule.model_validate(args["rule"])
    view = await policies.add_rule(
        await caller_of(ctx), ctx.session, event_id=event.luma_event_id, rule=rule
    )
    await ctx.say(f"Added rule {len(view.rules)}.\n\n" + _described(ctx, event, view))


@event_action("policy_remove", writes=True)
async def remove(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    removed, view = await policies.remove_rule(
        await caller_of(ctx), ctx.session, event_id=event.luma_event_id, number=args["number"]
    )
    said = f"Removed rule {args['number']} ({q(removed.describe(), 200)})."
    await ctx.say(f"{said}\n\n" + _described(ctx, event, view))


@event_action("policy_mode", writes=True)
async def mode(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    view = await policies.set_mode(
        await caller_of(ctx), ctx.session, event_id=event.luma_event_id, mode=args["mode"]
    )
    await ctx.say("Mode set.\n\n" + _described(ctx, event, view))


@event_action("policy_capacity", writes=True)
async def capacity(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    view = await policies.set_capacity(
        await caller_of(ctx), ctx.session, event_id=event.luma_event_id, capacity=args["seats"]
    )
    await ctx.session.commit()  # before the workflow looks at the seats it may have freed
    await policies.seat_may_have_freed(
        ctx.session, ctx.deps.automations, org_id=ctx.linked_org.id, event_id=event.luma_event_id
    )
    await ctx.say("Capacity set.\n\n" + _described(ctx, event, view))


@event_action("policy_waitlist", writes=True)
async def waitlist(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    view = await policies.set_waitlist_order(
        await caller_of(ctx), ctx.session, event_id=event.luma_event_id, order=args["order"]
    )
    await ctx.say("Waitlist order set.\n\n" + _described(ctx, event, view))


@event_action("policy_test")
async def test(ctx: Ctx, event: Event, _: dict[str, Any]) -> None:
    deps = ctx.deps
    run = await policies.dry_run(
        await caller_of(ctx),
        ctx.session,
        event=event,
        luma=deps.luma,
        keybox=deps.keybox,
        vip_defaults=deps.vip_rules,
        reader=deps.rubric,
    )
    await ctx.say(dry_run_text(event, run))


# --- the command ----------------------------------------------------------------------------


async def policy_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    words = (command.args or "").strip()
    args: dict[str, Any]
    verb, _, rest = words.partition(" ")
    verb = verb.lower()
    if verb == "add":
        event_words, colon, rule_words = rest.partition(":")
        if not colon or not rule_words.strip():
            raise UserError(
                "Name the event, a colon, then the rule: "
                "<code>/policy add Founders Dinner: approve from acme.com</code>. Rules look "
                f"like:\n<code>{q(EXAMPLES, 600)}</code>"
            )
        try:
            rule = parse_rule(rule_words)
        except RuleTextError as exc:
            raise UserError(q(str(exc), 800)) from None
        args = {"rule": rule.model_dump(mode="json")}
        await with_event(
            ctx, event_words, "policy_add", args, usage="/policy add Gala: hold tag student"
        )
    elif verb == "remove":
        event_words, _, number = rest.rstrip().rpartition(" ")
        if not number.isdigit():
            raise UserError("Say which rule, by its number: <code>/policy remove Gala 2</code>.")
        args = {"number": int(number)}
        await with_event(ctx, event_words, "policy_remove", args, usage="/policy remove Gala 2")
    elif verb == "mode":
        event_words, _, chosen = rest.rstrip().rpartition(" ")
        if chosen.lower() not in policies.MODES:
            raise UserError(
                "End with the mode: off, suggest or auto, e.g. "
                "<code>/policy mode Founders Dinner suggest</code>."
            )
        args = {"mode": chosen.lower()}
        await with_event(ctx, event_words, "policy_mode", args, usage="/policy mode Gala auto")
    elif verb == "capacity":
        event_words, _, seats = rest.rstrip().rpartition(" ")
        if not (seats.isdigit() or seats.lower() == "off"):
            raise UserError(
                "End with the number of seats (or off): "
                "<code>/policy capacity Founders Dinner 120</code>."
            )
        args = {"seats": int(seats) if seats.isdigit() else None}
        await with_event(
            ctx, event_words, "policy_capacity", args, usage="/policy capacity Gala 120"
        )
    elif verb == "waitlist":
        event_words, _, order = rest.rstrip().rpartition(" ")
        if order.lower() not in policies.WAITLIST_ORDERS:
            raise UserError(
                "End with the order: registered, vip or off, e.g. "
                "<code>/policy waitlist Founders Dinner vip</code>."
            )
        args = {"order": order.lower()}
        await with_event(
            ctx, event_words, "policy_waitlist", args, usage="/policy waitlist Gala vip"
        )
    elif verb == "rubric":
        event_words, colon, text = rest.partition(":")
        if not colon or not text.strip():
            raise UserError(
                "Name the event, a colon, then the rubric in your words: <code>/policy rubric "
                "Founders Dinner: approve founders building AI products; hold students</code> "
                "(<code>: off</code> removes it)."
            )
        removed = text.strip().lower() in ("off", "none", "remove")
        args = {"rubric": None if removed else text.strip()}
        await with_event(ctx, event_words, "policy_rubric", args, usage="/policy rubric Gala: …")
    elif verb == "rubric-declines":
        event_words, _, switch = rest.rstrip().rpartition(" ")
        if switch.lower() not in ("on", "off"):
            raise UserError(
                "End with on or off: <code>/policy rubric-declines Founders Dinner on</code>."
            )
        args = {"allowed": switch.lower() == "on"}
        await with_event(
            ctx,
            event_words,
            "policy_rubric_declines",
            args,
            usage="/policy rubric-declines Gala on",
        )
    elif verb == "test":
        await with_event(ctx, rest, "policy_test", {}, usage="/policy test Founders Dinner")
    elif words:
        await with_event(ctx, words, "policy_show", {}, usage="/policy Founders Dinner")
    else:
        raise UserError(USAGE)


# --- plain words: "auto-approve everyone from acme.com for the founders dinner" --------------

CHANGE_EXPIRED = "This policy change has expired or was already answered; please ask again."


async def propose_policy_change(ctx: Ctx, request: PolicyRequest) -> None:
    """Show the rules a standing order adds (and the mode it turns on), with Confirm: words
    read by a parser change a policy only once a person has seen the rules."""
    (await caller_of(ctx)).require_admin()  # said now, not after Confirm
    args = {"rules": [r.model_dump(mode="json") for r in request.rules], "auto": request.turn_on}
    if request.all_events:
        await _preview_change(ctx, None, args)
    elif not request.event_words:
        raise UserError(
            "For which event? Name it at the end, e.g. “… for the Founders Dinner” "
            "(or “… for all events” for the calendar-wide policy)."
        )
    else:
        usage = "auto-approve everyone from acme.com for the Founders Dinner"
        await with_event(ctx, request.event_words, "policy_propose", args, usage=usage)


@event_action("policy_propose", writes=True)
async def _propose_for(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    await _preview_change(ctx, event, args)


async def _preview_change(ctx: Ctx, event: Event | None, args: dict[str, Any]) -> None:
    event_id = event.luma_event_id if event else policies.CALENDAR_WIDE
    view = await policies.policy_for(ctx.session, org_id=ctx.linked_org.id, event_id=event_id)
    rules = [Rule.model_validate(rule) for rule in args["rules"]]
    where = (
        f"the approval policy of {event_title(event)}"
        if event
        else "the calendar-wide approval policy (every event without a policy of its own)"
    )
    lines = [f"Add to {where}:"]
    lines += [
        f"{n}. {q(rule.describe(), 300)}" for n, rule in enumerate(rules, len(view.rules) + 1)
    ]
    if view.inherited:
        lines.append("<i>The event follows the calendar-wide policy now: it gets its own copy.</i>")
    if view.rules:
        lines.append(f"The {len(view.rules)} rule(s) it has come first: the first match decides.")
    if args["auto"] and view.mode != "auto":
        lines.append("…and switch it to " + MODE_MEANING["auto"] + ".")
    elif view.mode == "off":
        lines.append("The policy stays off until you turn it on (<code>/policy mode</code>).")
    name = q(event.name, 60) if event else "Founders Dinner"
    lines.append(
        f"It decides new registrations; <code>/policy test {name}</code> shows what it would "
        "do to the pending guests now."
    )
    pending_id = await pending.park(
        ctx.session,
        org_id=ctx.linked_org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        kind="policy_change",
        payload={"event_id": event_id, **args},
    )
    await ctx.say("\n".join(lines), policy_change_keyboard(pending_id))


async def change_pressed(query: CallbackQuery, callback_data: PolicyChangeCb, ctx: Ctx) -> None:
    """Confirm adds the rules (and switches to auto if asked); only an admin's press counts,
    so a member's press leaves the question standing."""
    caller = await caller_of(ctx)
    caller.require_admin()
    pressed = await take_pressed(
        query, ctx, action_id=callback_data.id, kinds=("policy_change",), expired=CHANGE_EXPIRED
    )
    if pressed is None:
        return
    parked, message = pressed
    if callback_data.choice is Choice.CANCEL:
        await query.answer("Cancelled")
        await message.edit_text("Cancelled; the policy was not changed.")
        return
    await query.answer()
    event_id: str = parked.payload["event_id"]
    try:
        view = await policies.apply_standing_order(
            caller,
            ctx.session,
            event_id=event_id,
            rules=[Rule.model_validate(rule) for rule in parked.payload["rules"]],
            turn_on=parked.payload["auto"],
        )
    except Refusal as refusal:
        await ctx.session.rollback()
        await message.edit_text(f"The policy was not changed: {friendly(refusal)}")
        return
    await ctx.session.commit()  # saved before the chat is told it is done
    event = (
        await cache.get_event(ctx.session, org_id=ctx.linked_org.id, luma_event_id=event_id)
        if event_id
        else None
    )
    await message.edit_text(
        "Done.\n\n" + policy_text(event, view, gemini=ctx.deps.rubric is not None)
    )


# --- the buttons under a batch message: the guests the policy held ---------------------------

REVIEW_SHOWN = 30


async def review_pressed(query: CallbackQuery, callback_data: PolicyReviewCb, ctx: Ctx) -> None:
    """Approve or decline every held guest (the usual preview and Confirm: only those still
    pending count), or list them with the reasons they were held."""
    event = await cache.get_event(
        ctx.session, org_id=ctx.linked_org.id, luma_event_id=callback_data.event_id
    )
    await query.answer()
    if event is None or event.gone_at is not None:
        raise UserError("That event is no longer in this calendar; /events lists the current ones.")
    held = await policies.held_for_review(
        ctx.session, org_id=ctx.linked_org.id, event_id=event.luma_event_id
    )
    if not held:
        await ctx.say(f"No registration of {event_title(event)} is held for review.")
        return
    if callback_data.action == "list":
        lines = [f"Held for review at {event_title(event)}: {len(held)}"]
        for row in held[:REVIEW_SHOWN]:
            name = q(row.name, 48) if row.name else "<i>no name</i>"
            lines.append(f"• {name} — {q(row.email, 64)}\n   <i>{q(row.reason, 200)}</i>")
        if len(held) > REVIEW_SHOWN:
            lines.append(f"… and {len(held) - REVIEW_SHOWN} more")
        lines.append("Approve one with <code>/approve email event</code>, or use the buttons.")
        await ctx.say("\n".join(lines))
        return
    target = "approved" if callback_data.action == "approve" else "declined"
    wanted = GuestFilter(statuses=["pending_approval"], emails=[row.email for row in held])
    await preview_bulk(ctx, event, {"target": target, "filter": asdict(wanted)})


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="policies")
    router.message.register(policy_command, Command("policy"), flags={"linked": True})
    router.callback_query.register(review_pressed, PolicyReviewCb.filter(), flags={"linked": True})
    router.callback_query.register(change_pressed, PolicyChangeCb.filter(), flags={"linked": True})
    return router
