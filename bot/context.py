"""What a handler knows about the update it answers: who, where, which org, and its clients.

The tenant middleware builds one `Ctx` per handled update. Commands, button presses and
plain-language requests all run the same feature code against it, so the rules (which org a
chat sees, who may write) are applied in one place whatever the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import UserError
from bot.middlewares.roles import Access
from store.models import Event, Organization, Role, utcnow

if TYPE_CHECKING:
    from bot.app import BotDeps

GROUP_KINDS = frozenset({"group", "supergroup"})
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass
class Ctx:
    """One handled update: the clients, the person, the chat, and the org the chat sees."""

    bot: Bot
    deps: BotDeps
    session: AsyncSession
    chat_id: int
    chat_kind: str
    chat_title: str
    user_id: int
    org: Organization | None
    role: Role | None = None  # the person's membership in `org`: the one source of authority
    timezone: str = "UTC"
    personal_data: bool = False  # a group's admin let non-members see guests' details
    removed: bool = False  # the chat's org took this person out: no group-admin rights either
    events: Sequence[Event] | None = None  # the org's live events, once read in this update

    @property
    def in_group(self) -> bool:
        return self.chat_kind in GROUP_KINDS

    @property
    def linked_org(self) -> Organization:
        """The org of a handler that requires one (the tenant middleware checked it)."""
        if self.org is None:
            raise UserError("This chat is not linked to a Luma calendar yet.")
        return self.org

    @cached_property
    def access(self) -> Access:
        """Who may write here; each question is asked at most once per update."""
        return Access(self)

    def now(self) -> datetime:
        return utcnow()

    async def say(self, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
        """Send to this chat, committing first: what a person is told (or offered a button
        for) is already stored when they read it."""
        await self.session.commit()
        return await self.bot.send_message(
            self.chat_id, text, reply_markup=markup, link_preview_options=NO_PREVIEW
        )
