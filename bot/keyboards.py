"""Inline buttons: one CallbackData factory per kind of press, with enum fields.

Telegram limits callback data to 64 bytes, so buttons carry ids, never payloads: a pending
action's id (`store.pending`, which holds what the press will do), an org id, or a workflow id.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.texts import clip


class Choice(StrEnum):
    CONFIRM = "ok"
    CANCEL = "no"
    REFUND = "refund"  # decline paid guests and refund them
    KEEP = "keep"  # decline paid guests, keep the payment


class PendingCb(CallbackData, prefix="pa"):
    """Confirm / Cancel (or a refund choice) of a parked write."""

    choice: Choice
    id: str


class PolicyChangeCb(CallbackData, prefix="pc"):
    """Confirm / Cancel of an approval policy change asked for in plain words."""

    choice: Choice
    id: str


class PickCb(CallbackData, prefix="pk"):
    """One of the events offered when a name was ambiguous."""

    id: str
    index: int


class MoreCb(CallbackData, prefix="mo"):
    """The next page of a long list."""

    id: str


class JobAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class JobCb(CallbackData, prefix="jb"):
    """Pause, resume or cancel a running bulk job."""

    action: JobAction
    workflow_id: str


class UseCb(CallbackData, prefix="use"):
    """The org a DM should work with."""

    org_id: int


def confirm_keyboard(pending_id: str, *, refund_choice: bool = False) -> InlineKeyboardMarkup:
    """Confirm / Cancel, or, when paid tickets are involved, the two refund choices."""
    builder = InlineKeyboardBuilder()
    if refund_choice:
        builder.button(
            text="Decline and refund", callback_data=PendingCb(choice=Choice.REFUND, id=pending_id)
        )
        builder.button(
            text="Decline, no refund", callback_data=PendingCb(choice=Choice.KEEP, id=pending_id)
        )
    else:
        builder.button(
            text="Confirm", callback_data=PendingCb(choice=Choice.CONFIRM, id=pending_id)
        )
    builder.button(text="Cancel", callback_data=PendingCb(choice=Choice.CANCEL, id=pending_id))
    builder.adjust(2 if not refund_choice else 1)
    return builder.as_markup()


def policy_change_keyboard(pending_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="Confirm", callback_data=PolicyChangeCb(choice=Choice.CONFIRM, id=pending_id)
    )
    builder.button(text="Cancel", callback_data=PolicyChangeCb(choice=Choice.CANCEL, id=pending_id))
    return builder.as_markup()


def pick_keyboard(pending_id: str, labels: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, label in enumerate(labels):
        builder.button(text=clip(label, 60), callback_data=PickCb(id=pending_id, index=index))
    builder.adjust(1)
    return builder.as_markup()


def more_keyboard(pending_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="More", callback_data=MoreCb(id=pending_id))
    return builder.as_markup()


def job_keyboard(workflow_id: str, *, paused: bool) -> InlineKeyboardMarkup | None:
    """Pause (or Resume) and Cancel; None when the id is too long for callback data."""
    first = JobAction.RESUME if paused else JobAction.PAUSE
    builder = InlineKeyboardBuilder()
    try:
        for action in (first, JobAction.CANCEL):
            data = JobCb(action=action, workflow_id=workflow_id).pack()  # checks the 64 bytes
            builder.button(text=action.value.title(), callback_data=data)
    except ValueError:
        return None
    return builder.as_markup()


def use_keyboard(orgs: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for org_id, name in orgs:
        builder.button(text=clip(name, 60), callback_data=UseCb(org_id=org_id))
    builder.adjust(1)
    return builder.as_markup()
