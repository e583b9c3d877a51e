"""`/invite`: add or invite a pasted list (or an uploaded CSV) to an event, nothing dropped.

    /invite Founders Dinner
    ada@example.com
    Grace Hopper <grace@example.com>, alan@example.com

or a CSV file sent with the caption `/invite Founders Dinner`. The preview says how many are
new, already on the guest list, not valid addresses and repeated; Add as going / Send
invitations starts the durable job (`services.invites`, `workflows.invites`), whose report
accounts for every address.
"""

from __future__ import annotations

from typing import Any, Literal

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.caller import caller_of
from bot.context import Ctx
from bot.errors import UserError
from bot.middlewares.errors import friendly
from bot.pressed import take_pressed
from bot.routers.event_choice import event_action, with_event
from bot.texts import event_title, q
from catalog.invite_list import InviteList, TooManyEntries, parse_csv, parse_text
from services import invites
from services.caller import Refusal
from store import cache, pending
from store.models import Event

MAX_FILE_BYTES = 2 * 1024 * 1024
SHOWN = 5
EXPIRED = "This invite list has expired or was already sent; please send it again."
USAGE = (
    "Name the event, then the addresses on the next lines, e.g.\n"
    "<code>/invite Founders Dinner\nada@example.com\nGrace Hopper &lt;grace@example.com&gt;"
    "</code>\nor send a CSV file with the caption <code>/invite Founders Dinner</code>."
)


class InviteCb(CallbackData, prefix="iv"):
    """Add as going, send invitations, or cancel a previewed list."""

    how: Literal["add", "invite", "no"]
    id: str


def _parsed(text: str | None, csv_data: bytes | None) -> InviteList:
    try:
        return parse_csv(csv_data) if csv_data is not None else parse_text(text or "")
    except TooManyEntries as exc:
        raise UserError(q(str(exc), 300)) from None


async def _csv_of(bot: Bot, message: Message) -> bytes | None:
    document = message.document
    if document is None:
        return None
    if (document.file_size or 0) > MAX_FILE_BYTES:
        raise UserError("That file is too big for an invite list (2 MB at most).")
    downloaded = await bot.download(document)
    return downloaded.read() if downloaded is not None else None


async def invite_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await ctx.access.require_guest_writer()
    first, _, rest = (command.args or "").partition("\n")
    csv_data = await _csv_of(ctx.bot, message)
    if not first.strip() or (csv_data is None and not rest.strip()):
        raise UserError(USAGE)
    listed = _parsed(rest, csv_data)  # refuse a bad list before asking which event
    if not listed.valid:
        raise UserError("I found no valid address in that list, so there is nothing to send.")
    args = {"text": rest} if csv_data is None else {"csv": csv_data.decode("latin-1")}
    await with_event(ctx, first, "invites", args, usage="/invite Founders Dinner")


@event_action("invites", writes=True)
async def preview(ctx: Ctx, event: Event, args: dict[str, Any]) -> None:
    listed = _from_args(args)
    seen = await invites.preview(await caller_of(ctx), ctx.session, event=event, invitees=listed)
    lines = [f"Invite list for {event_title(event)}: {seen.total} address(es)"]
    lines.append(f"• new: {len(seen.new)}")
    lines += [f"   {q(p.email, 64)}" for p in seen.new[:SHOWN]]
    if seen.already:
        lines.append(f"• already on the guest list: {len(seen.already)} (left as they are)")
    if seen.invalid:
        lines.append(f"• not valid, will not be sent: {len(seen.invalid)}")
        lines += [f"   {q(r.raw, 64)}: {q(r.reason, 120)}" for r in seen.invalid[:SHOWN]]
    if seen.duplicates:
        lines.append(f"• repeated in the list: {seen.duplicates} (sent once)")
    if not seen.new:
        lines.append("Nobody new to add.")
        await ctx.say("\n".join(lines))
        return
    pending_id = await pending.park(
        ctx.session,
        org_id=ctx.linked_org.id,
        chat_id=ctx.chat_id,
        user_id=ctx.user_id,
        kind="invites",
        payload={**args, "event_id": event.luma_event_id},
    )
    builder = InlineKeyboardBuilder()
    builder.button(text="Add as going", callback_data=InviteCb(how="add", id=pending_id))
    builder.button(text="Send invitations", callback_data=InviteCb(how="invite", id=pending_id))
    builder.button(text="Cancel", callback_data=InviteCb(how="no", id=pending_id))
    builder.adjust(2, 1)
    await ctx.say("\n".join(lines), builder.as_markup())


def _from_args(args: dict[str, Any]) -> InviteList:
    csv_text = args.get("csv")
    return _parsed(args.get("text"), csv_text.encode("latin-1") if csv_text else None)


async def pressed(query: CallbackQuery, callback_data: InviteCb, ctx: Ctx) -> None:
    taken = await take_pressed(
        query, ctx, action_id=callback_data.id, kinds=("invites",), expired=EXPIRED
    )
    if taken is None:
        return
    parked, message = taken
    await query.answer()
    if callback_data.how == "no":
        await message.edit_text("Cancelled; nobody was added or invited.")
        return
    event = await cache.get_event(
        ctx.session, org_id=ctx.linked_org.id, luma_event_id=parked.payload["event_id"]
    )
    if event is None or event.gone_at is not None:
        await message.edit_text("That event is no longer in this calendar; nothing was sent.")
        return
    try:
        job = await invites.stage(
            await caller_of(ctx),
            ctx.session,
            event=event,
            invitees=_from_args(parked.payload),
            how=callback_data.how,
        )
        await ctx.session.commit()  # the job reads its addresses from the database
        await invites.launch(ctx.deps.automations, job, ctx.deps.sessions)
    except Refusal as refusal:
        await message.edit_text(f"Nothing was sent: {friendly(refusal)}")
        return
    verb = "Adding" if callback_data.how == "add" else "Inviting"
    await message.edit_text(
        f"{verb} the list to {event_title(event)}. I will post the report here: every "
        "address, accounted for."
    )


def build_router() -> Router:
    """This feature's handlers on a new router (a router joins only one dispatcher)."""
    router = Router(name="invites")
    router.message.register(invite_command, Command("invite"), flags={"linked": True})
    router.callback_query.register(pressed, InviteCb.filter(), flags={"linked": True})
    return router
