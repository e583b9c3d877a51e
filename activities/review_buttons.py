"""The buttons under an approval policy's batch message: act on the guests it held.

Defined below the bot (activities send the message; the bot answers the press), so both
sides share one callback-data factory: `bot.routers.policies` handles `PolicyReviewCb`.
"""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

ReviewAction = Literal["approve", "decline", "list"]


class PolicyReviewCb(CallbackData, prefix="pr"):
    """Approve all held, decline all held, or list them, for one event."""

    action: ReviewAction
    event_id: str


def review_keyboard(event_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="Approve all held", callback_data=PolicyReviewCb(action="approve", event_id=event_id)
    )
    builder.button(
        text="Review one by one", callback_data=PolicyReviewCb(action="list", event_id=event_id)
    )
    builder.button(
        text="Decline all held", callback_data=PolicyReviewCb(action="decline", event_id=event_id)
    )
    builder.adjust(1)
    return builder.as_markup()
