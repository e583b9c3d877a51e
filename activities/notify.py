"""Telegram notifications from workflows: reports, digests and summaries.

Each message carries an idempotency key recorded in the audit log after sending, so a
replayed or retried step does not post the same report twice (a crash between the send and
the record can repeat one message at most).

aiogram and matplotlib are imported where a message is sent, not with the module: every
workflow that posts imports this class, and so does everything that starts those workflows
(the API's and the bot's services), which need neither library's ~3 s of imports. The worker
that runs the activity has the bot loaded anyway.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.telegram_pace import TelegramPace
from store import audit
from store.models import AuditEntry, Chat
from store.orgs import get_role
from workflows.contracts.notify import ChatNotice

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)
TELEGRAM_LIMIT = 4096
CAPTION_LIMIT = 1024


def clip(text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """Telegram refuses longer messages; cut on a line break and say so."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 20)
    return text[: cut if cut > 0 else limit - 20] + "\n… (truncated)"


class NotifyActivities:
    """Posts to Telegram chats; without a bot configured it records that nothing was sent."""

    def __init__(
        self,
        bot: Bot | None,
        sessions: async_sessionmaker[AsyncSession],
        pace: TelegramPace | None = None,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.pace = pace or TelegramPace()

    @activity.defn
    async def notify_chat(self, notice: ChatNotice) -> bool:
        """Send once; returns whether the message went out (now, or by an earlier attempt)."""
        async with self.sessions() as session:
            already = await session.scalar(
                select(AuditEntry.result).where(
                    AuditEntry.idempotency_key == notice.idempotency_key
                )
            )
            if already is not None:
                return already == "sent"
            refusal = await _why_not_deliverable(session, notice)
        sent, result = False, refusal or "no bot configured"
        if refusal is not None:
            log.info("not notifying chat %s: %s", notice.chat_id, refusal)
        elif self.bot is not None:
            from aiogram.exceptions import (  # see the module's doc
                TelegramBadRequest,
                TelegramForbiddenError,
                TelegramNotFound,
                TelegramRetryAfter,
            )

            try:
                await self._send(notice)
                sent, result = True, "sent"
            except TelegramRetryAfter as exc:
                # Telegram's flood wait (another process shares the bot's budget): try again
                # after exactly that, nothing recorded, so the retry sends.
                raise ApplicationError(
                    "Telegram asked to slow down",
                    type="TelegramFloodWait",
                    next_retry_delay=timedelta(seconds=exc.retry_after),
                ) from None
            except (TelegramForbiddenError, TelegramNotFound, TelegramBadRequest) as exc:
                # The chat is gone or the bot was removed: retrying cannot help.
                log.warning("could not notify chat %s: %s", notice.chat_id, exc.message)
                result = "undeliverable"
        async with self.sessions.begin() as session:
            await audit.record(
                session,
                org_id=notice.org_id,
                source="workflow",
                action="notify",
                result=result,
                chat_id=notice.chat_id,
                idempotency_key=notice.idempotency_key,
            )
        return sent

    async def _send(self, notice: ChatNotice) -> None:
        from aiogram.types import BufferedInputFile  # see the module's doc

        from activities.charts import bar_chart_png
        from activities.review_buttons import review_keyboard

        assert self.bot is not None
        chat = notice.chat_id
        if notice.chart is None:
            buttons = review_keyboard(notice.review_event_id) if notice.review_event_id else None
            async with self.pace.turn(chat):
                await self.bot.send_message(chat, clip(notice.text), reply_markup=buttons)
            return
        png = bar_chart_png(notice.chart_title, notice.chart)
        photo = BufferedInputFile(png, filename="summary.png")
        caption = notice.text if len(notice.text) <= CAPTION_LIMIT else None
        async with self.pace.turn(chat):
            await self.bot.send_photo(chat, photo, caption=caption)
        if caption is None:
            async with self.pace.turn(chat):
                await self.bot.send_message(chat, clip(notice.text))


async def _why_not_deliverable(session: AsyncSession, notice: ChatNotice) -> str | None:
    """Checked at every send, so a schedule set up long ago (a digest, a summary) never posts
    an org's data where it no longer belongs: a group relinked to another calendar or
    unlinked, or the DM of a person no longer in the org."""
    if notice.chat_id > 0:  # a private chat's id is its person's id
        role = await get_role(session, org_id=notice.org_id, user_id=notice.chat_id)
        return None if role is not None else "not a member any more"
    chat = await session.get(Chat, notice.chat_id)
    if chat is None or chat.org_id != notice.org_id:
        return "chat not linked to this org"
    return None
