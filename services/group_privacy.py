"""Whether a linked group shows guests' personal data to people outside the org.

Org members always see guest lists, details, exports and notes; in a group, everyone else sees
counts only unless an org admin turns personal data on for that group knowingly (a group's
members are not vetted by the org, and a public group is anyone's). In a public group a
member's answer holding personal data goes to their private chat instead (the group is told
so): whoever reads the group must not see it because a member asked.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services import audit
from services.caller import Caller, Invalid
from store.models import Chat

COUNTS_ONLY_NOTE = (
    "In this group, guest lists, details, exports and notes are shown only to members of the "
    "calendar's team; everyone else sees counts. An admin can change that with "
    "<code>/privacy show</code>."
)
PUBLIC_GROUP_WARNING = "⚠️ This group is public: anyone can join it. " + COUNTS_ONLY_NOTE.replace(
    "In this", "Here"
)
SENT_PRIVATELY = (
    "🔒 This group is public, so I sent that to you in our private chat. An admin can show "
    "guests' details here with <code>/privacy show</code>."
)
START_ME_FIRST = (
    "This group is public, so guests' details go to team members privately, and I cannot "
    "write to you yet: open a private chat with me ({link}), press Start, then ask again."
)
NOT_SHOWN = (
    "Guest lists and details are shown in this group only to members of the calendar's team "
    "(an admin adds people with /role), or to everyone once an admin turns it on with "
    "<code>/privacy show</code>. Counts work for everyone; or ask me in a private chat."
)


async def set_personal_data(caller: Caller, session: AsyncSession, *, shown: bool) -> None:
    """Turn personal data on or off for non-members in the caller's group (admins only)."""
    caller.require_admin()
    chat = await session.get(Chat, caller.chat_id) if caller.chat_id is not None else None
    if chat is None or chat.org_id != caller.org_id or chat.kind == "private":
        raise Invalid("This setting belongs to a group linked to the calendar; send it there.")
    chat.personal_data = shown
    await audit.record(
        caller, session, "group_personal_data", {"chat": chat.id}, result="on" if shown else "off"
    )
