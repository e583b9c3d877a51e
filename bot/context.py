"""What a handler knows about the update it answers: who, where, which org, and its clients.

The tenant middleware builds one `Ctx` per handled update. Commands, button presses and
plain-language requests all run the same feature code against it, so the rules (which org a
chat sees, who may write) are applied in one place whatever the way in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import UserError
from bot.middlewares.roles import Access
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from nlp.translation import Answer, button_label
from services.group_privacy import SENT_PRIVATELY, START_ME_FIRST
from store.models import Chat, Event, Organization, Role, User, utcnow

if TYPE_CHECKING:
    from bot.app import BotDeps

log = logging.getLogger(__name__)
# An answer's text in the person's language (or as it is), for what is said after the update.
Translator = Callable[[str], Awaitable[str]]
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
    public: bool = False  # a public group (it has a username): anyone can join and read it
    # Where this update's answers go when not here: a member's private chat, for personal data
    # asked for in a public group (Access.require_personal_data).
    answer_chat_id: int | None = None
    group_told: bool = False  # the group was told the answer went to the private chat
    events: Sequence[Event] | None = None  # the org's live events, once read in this update
    org_vip_rules: VipRules | None = None  # the org's VIP rules, once read in this update
    # The language the person wrote in (None: English): answers are translated into it when a
    # faithful translation is to be had (`nlp.translation`), else sent in English.
    language: str | None = None

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

    async def vip_rules(self) -> VipRules:
        """The linked org's VIP rules (its own, else the settings' defaults)."""
        if self.org_vip_rules is None:
            self.org_vip_rules = await vip_rules_for(
                self.session, org_id=self.linked_org.id, defaults=self.deps.vip_rules
            )
        return self.org_vip_rules

    @property
    def answer_chat(self) -> int:
        """The chat this update's answers go to (and their buttons are bound to)."""
        return self.chat_id if self.answer_chat_id is None else self.answer_chat_id

    async def say(self, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
        """Send to the answer chat, committing first: what a person is told (or offered a
        button for) is already stored when they read it."""
        await self.session.commit()
        text, markup = await self.in_language(text, markup)
        return await self.deliver(
            lambda chat_id: self.bot.send_message(
                chat_id, text, reply_markup=markup, link_preview_options=NO_PREVIEW
            )
        )

    async def edit(
        self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Replace the text of an answer (a question whose button was pressed), committing
        first and in the person's language, like `say`."""
        await self.session.commit()
        text, markup = await self.in_language(text, markup)
        await message.edit_text(text, reply_markup=markup)

    def translator(self) -> Translator | None:
        """Translation into the person's language for an answer given after this update
        (a bulk job's report), holding no ORM object; None when they wrote in English."""
        return None if self.language is None else self._text_translator(self.language)

    async def in_language(
        self, text: str, markup: InlineKeyboardMarkup | None
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """`text` in the person's language, or as it is (English) when they wrote in English
        or no faithful translation is to be had; button labels from a fixed table only."""
        if self.language is None:
            return text, markup
        language = self.language
        if markup is not None:
            rows = [
                [
                    button.model_copy(update={"text": button_label(button.text, language)})
                    for button in row
                ]
                for row in markup.inline_keyboard
            ]
            markup = InlineKeyboardMarkup(inline_keyboard=rows)
        return await self._text_translator(language)(text), markup

    def _text_translator(self, language: str) -> Translator:
        """Text into `language`, or the text itself when no faithful translation is had."""
        parser = self.deps.parser
        org_id = self.org.id if self.org is not None else None
        names = [event.name for event in self.events or ()]

        async def translate(text: str) -> str:
            try:
                translated = await parser.translate(
                    Answer(text), language, org_id=org_id, names=names
                )
            except Exception:  # the quota's database, say: a translation never costs an answer
                log.warning("answer left in English: the translation failed", exc_info=True)
                return text
            return text if translated is None else translated.text

        return translate

    async def _follow_in_private(self) -> None:
        """A private chat that follows no calendar yet follows this group's, so the answer's
        buttons (More) work there."""
        user = await self.session.get(User, self.user_id)
        private = await self.session.get(Chat, self.user_id)
        if (
            user is not None
            and user.active_org_id is None
            and (private is None or private.org_id is None)
        ):
            user.active_org_id = self.linked_org.id
            await self.session.commit()

    async def deliver(self, send: Callable[[int], Awaitable[Message]]) -> Message:
        """`send` an answer to the answer chat; when that is the person's private chat, the
        group is told once, or, if the bot may not write to them yet, asked to start it."""
        if self.answer_chat_id is None:
            return await send(self.chat_id)
        await self._follow_in_private()
        try:
            sent = await send(self.answer_chat_id)
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            # Forbidden: they never started the bot, or blocked it; any other bad request is
            # ours, for the error handler.
            if isinstance(exc, TelegramBadRequest) and "chat not found" not in exc.message:
                raise
            link = f"https://t.me/{(await self.bot.me()).username}"
            raise UserError(START_ME_FIRST.format(link=link)) from None
        if not self.group_told:
            self.group_told = True
            await self.bot.send_message(self.chat_id, SENT_PRIVATELY)
        return sent
